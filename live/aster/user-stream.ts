import { Subject } from 'rxjs';
import WebSocket from 'ws';
import { z } from 'zod';
import type { Side } from '../../pipelines/model/index.ts';
import type { AsterIncome, AsterOrder, AsterUserTrade } from './schemas.ts';
import { backoffDelay, realScheduler, type Scheduler } from './scheduler.ts';

const num = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `not a number: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const OrderTradeUpdateSchema = z.looseObject({
  e: z.literal('ORDER_TRADE_UPDATE'),
  E: num,
  T: num.optional(),
  o: z.looseObject({
    s: z.string(),
    c: z.string(),
    S: z.enum(['BUY', 'SELL']),
    o: z.string(),
    f: z.string().optional(),
    q: num,
    p: num.optional(),
    ap: num.optional(),
    sp: num.optional(),
    x: z.string(),
    X: z.string(),
    i: z.union([z.number(), z.string()]).transform(Number),
    l: num,
    z: num,
    L: num,
    N: z.string().optional(),
    n: num.optional(),
    T: num,
    t: z.union([z.number(), z.string()]).transform(Number).optional(),
    m: z.boolean().optional(),
    R: z.boolean().optional(),
    ot: z.string().optional(),
    ps: z.string().optional(),
    cp: z.boolean().optional(),
    rp: num.optional(),
  }),
});

const AccountUpdateSchema = z.looseObject({
  e: z.literal('ACCOUNT_UPDATE'),
  E: num,
  T: num.optional(),
  a: z.looseObject({
    m: z.string(),
    B: z.array(z.looseObject({ a: z.string(), wb: num, cw: num.optional(), bc: num.optional() })).default([]),
    P: z
      .array(
        z.looseObject({
          s: z.string(),
          pa: num,
          ep: num,
          up: num.optional(),
          mt: z.string().optional(),
          ps: z.string().optional(),
        }),
      )
      .default([]),
  }),
});

/** ORDER_TRADE_UPDATE, numbers converted */
export interface OrderUpdate {
  readonly kind: 'order-update';
  readonly eventTime: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly orderId: number;
  readonly side: Side;
  readonly orderType: string;
  /** NEW CANCELED CALCULATED EXPIRED TRADE */
  readonly executionType: string;
  /** NEW PARTIALLY_FILLED FILLED CANCELED EXPIRED … */
  readonly status: string;
  readonly origQty: number;
  readonly price: number;
  readonly avgPrice: number;
  readonly stopPrice: number;
  readonly lastQty: number;
  readonly lastPrice: number;
  readonly cumQty: number;
  readonly commission: number;
  readonly commissionAsset: string;
  readonly tradeTime: number;
  readonly tradeId: number;
  readonly isMaker: boolean;
  readonly reduceOnly: boolean;
  readonly closePosition: boolean;
  readonly positionSide: string;
  readonly realizedPnl: number;
}

export interface AccountUpdate {
  readonly kind: 'account-update';
  readonly eventTime: number;
  /** T: when the balance moved (E when absent) */
  readonly transactionTime: number;
  readonly reason: string;
  readonly balances: readonly { asset: string; walletBalance: number; crossWalletBalance: number; change: number }[];
  readonly positions: readonly {
    symbol: string;
    positionAmt: number;
    entryPrice: number;
    unrealizedPnl: number;
    marginType: string;
    positionSide: string;
  }[];
}

export interface ListenKeyExpired {
  readonly kind: 'listen-key-expired';
  readonly eventTime: number;
}

/** any other event type (MARGIN_CALL, ACCOUNT_CONFIG_UPDATE, announcement …), passed on raw */
export interface OtherUserEvent {
  readonly kind: 'other';
  readonly type: string;
  readonly raw: unknown;
}

/**
 * Funding read from the exchange's ledger (`/fapi/v1/income`, incomeType FUNDING_FEE): after a
 * reconnect, or when an ACCOUNT_UPDATE FUNDING_FEE carries no balance change (`bc` "0").
 */
export interface FundingIncome {
  readonly kind: 'funding-income';
  readonly symbol: string;
  readonly asset: string;
  /** signed balance change: negative = paid */
  readonly income: number;
  readonly time: number;
  readonly tranId: number;
}

export type UserEvent = OrderUpdate | AccountUpdate | ListenKeyExpired | FundingIncome | OtherUserEvent;

export type ParseResult = { ok: true; event: UserEvent } | { ok: false; detail: string };

/** one user-data frame (raw or wrapped as {stream, data}) → typed event, or why it is malformed */
export function parseUserEvent(text: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'frame is not JSON' };
  }
  const data = typeof msg === 'object' && msg !== null && 'data' in msg ? (msg as { data: unknown }).data : msg;
  const e = typeof data === 'object' && data !== null ? (data as { e?: unknown }).e : undefined;
  if (typeof e !== 'string') return { ok: false, detail: 'frame has no event type' };
  if (e === 'ORDER_TRADE_UPDATE') {
    const p = OrderTradeUpdateSchema.safeParse(data);
    if (!p.success) return { ok: false, detail: `malformed ORDER_TRADE_UPDATE: ${p.error.issues[0]?.message ?? ''}` };
    const o = p.data.o;
    return {
      ok: true,
      event: {
        kind: 'order-update',
        eventTime: p.data.E,
        symbol: o.s,
        clientOrderId: o.c,
        orderId: o.i,
        side: o.S,
        orderType: o.o,
        executionType: o.x,
        status: o.X,
        origQty: o.q,
        price: o.p ?? 0,
        avgPrice: o.ap ?? 0,
        stopPrice: o.sp ?? 0,
        lastQty: o.l,
        lastPrice: o.L,
        cumQty: o.z,
        commission: o.n ?? 0,
        commissionAsset: o.N ?? '',
        tradeTime: o.T,
        tradeId: o.t ?? 0,
        isMaker: o.m ?? false,
        reduceOnly: o.R ?? false,
        closePosition: o.cp ?? false,
        positionSide: o.ps ?? 'BOTH',
        realizedPnl: o.rp ?? 0,
      },
    };
  }
  if (e === 'ACCOUNT_UPDATE') {
    const p = AccountUpdateSchema.safeParse(data);
    if (!p.success) return { ok: false, detail: `malformed ACCOUNT_UPDATE: ${p.error.issues[0]?.message ?? ''}` };
    const a = p.data.a;
    return {
      ok: true,
      event: {
        kind: 'account-update',
        eventTime: p.data.E,
        transactionTime: p.data.T ?? p.data.E,
        reason: a.m,
        balances: a.B.map((b) => ({
          asset: b.a,
          walletBalance: b.wb,
          crossWalletBalance: b.cw ?? b.wb,
          change: b.bc ?? 0,
        })),
        positions: a.P.map((x) => ({
          symbol: x.s,
          positionAmt: x.pa,
          entryPrice: x.ep,
          unrealizedPnl: x.up ?? 0,
          marginType: x.mt ?? '',
          positionSide: x.ps ?? 'BOTH',
        })),
      },
    };
  }
  if (e === 'listenKeyExpired') {
    const t = Number((data as { E?: unknown }).E);
    return { ok: true, event: { kind: 'listen-key-expired', eventTime: Number.isFinite(t) ? t : 0 } };
  }
  return { ok: true, event: { kind: 'other', type: e, raw: data } };
}

export type UserStreamStatus =
  | { readonly kind: 'connected'; readonly listenKeyRenewed: boolean; readonly rollover?: boolean }
  | { readonly kind: 'silent'; readonly forMs: number }
  | {
      readonly kind: 'caught-up';
      readonly since: number;
      readonly fills: number;
      readonly orders: number;
      readonly funding: number;
    }
  | { readonly kind: 'disconnected'; readonly code: number; readonly retryInMs: number }
  | { readonly kind: 'keep-alive'; readonly ok: boolean }
  | { readonly kind: 'error'; readonly detail: string; readonly raw?: string };

export interface ListenKeyApi {
  createListenKey(): Promise<string>;
  keepAliveListenKey(): Promise<void>;
  closeListenKey(): Promise<void>;
}

/** REST reads for the catch-up after a reconnect (AsterRestClient has them all) */
export interface UserCatchUpApi {
  openOrders(): Promise<readonly AsterOrder[]>;
  allOrders(q: { symbol: string; limit: number }): Promise<readonly AsterOrder[]>;
  userTrades(q: {
    symbol: string;
    startTime?: number;
    fromId?: number;
    limit: number;
  }): Promise<readonly AsterUserTrade[]>;
  income(q: { incomeType: 'FUNDING_FEE'; startTime: number; limit: number }): Promise<readonly AsterIncome[]>;
}

export interface UserStreamOptions {
  /** e.g. wss://fstream.asterdex.com (user data is at /ws/<listenKey>) */
  readonly wsUrl: string;
  readonly rest: ListenKeyApi;
  readonly scheduler?: Scheduler;
  /** default 30 min */
  readonly keepAliveMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * REST catch-up on every reconnect: fills, cancels/expiries and funding since the last event
   * seen. Without it, whatever happened while the socket was down is not seen until a restart.
   */
  readonly catchUp?: UserCatchUpApi;
  /** symbols whose orders are caught up (besides any with open orders) */
  readonly symbols?: readonly string[];
  /** the exchange's clock (AsterRestClient.serverNow); default Date.now */
  readonly now?: () => number;
  /** open a fresh connection before the exchange's 24 h limit; default 23 h */
  readonly rolloverMs?: number;
  /**
   * liveness: no frame at all (data, ping or pong) for this long → reconnect. Default 10 min,
   * twice the exchange's 5-minute ping period, so a quiet account is never taken for a dead one.
   */
  readonly silenceMs?: number;
  /** how far before the last event seen the catch-up reads (clock skew, late indexing); default 5 s */
  readonly catchUpSlackMs?: number;
}

/** the close code reported when the silence watchdog drops a socket (4000–4999: application codes) */
export const SILENT_CLOSE_CODE = 4000;
/** a rollover socket that failed to open is tried again this much later */
const ROLLOVER_RETRY_MS = 60_000;

/** most remembered fill/order/funding keys (oldest forgotten first) */
const MAX_SEEN = 20_000;

/**
 * The user-data stream: creates the listenKey, keeps it alive on the injected scheduler,
 * re-creates it (and reconnects) on listenKeyExpired or a failed keep-alive, and reconnects with
 * back-off when the socket drops or stays silent past `silenceMs`. It rolls over to a fresh
 * connection (same key) before the exchange's 24 h cut. After every reconnect it catches up over
 * REST (`catchUp`): fills, cancels and funding since the last event seen are emitted once each —
 * fills keyed by trade id, order ends by order id and status, funding by tranId or time and amount,
 * across socket and REST. Raw text of malformed frames goes to `status` (it carries no secret: the
 * listenKey is never included).
 */
export class AsterUserStream {
  readonly events = new Subject<UserEvent>();
  readonly status = new Subject<UserStreamStatus>();
  private readonly scheduler: Scheduler;
  private readonly now: () => number;
  private ws: WebSocket | null = null;
  private listenKey: string | null = null;
  private stopped = true;
  private attempt = 0;
  private keepAliveTimer: unknown = null;
  private reconnectTimer: unknown = null;
  private rolloverTimer: unknown = null;
  private silenceTimer: unknown = null;
  /** the first connection's time: nothing older is caught up (restart reconciliation owns it) */
  private firstConnectedAt: number | null = null;
  private connections = 0;
  /** the newest event time seen (socket or catch-up) */
  private lastEventTime = -Infinity;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private catchUpQueue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: UserStreamOptions) {
    this.scheduler = opts.scheduler ?? realScheduler;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.open(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.keepAliveTimer, this.reconnectTimer, this.rolloverTimer, this.silenceTimer])
      if (t !== null) this.scheduler.clearTimeout(t);
    this.keepAliveTimer = this.reconnectTimer = this.rolloverTimer = this.silenceTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.terminate();
    if (this.listenKey !== null) {
      this.listenKey = null;
      await this.opts.rest.closeListenKey().catch(() => undefined);
    }
  }

  /** waits for catch-ups in flight */
  async drain(): Promise<void> {
    await this.catchUpQueue;
  }

  private async open(renewed: boolean): Promise<void> {
    let key: string;
    try {
      key = await this.opts.rest.createListenKey();
    } catch (e) {
      this.status.next({
        kind: 'error',
        detail: `listenKey create failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      return this.retryLater(0);
    }
    if (this.stopped) return;
    this.listenKey = key;
    this.connect(key, renewed, false);
  }

  /** a socket on `key`; a rollover socket replaces the current one only once it is open */
  private connect(key: string, renewed: boolean, rollover: boolean): void {
    const ws = new WebSocket(`${this.opts.wsUrl.replace(/\/+$/, '')}/ws/${key}`, { autoPong: false });
    if (!rollover) {
      const old = this.ws;
      this.ws = ws;
      old?.terminate();
    }
    ws.on('ping', (data: Buffer) => {
      if (ws === this.ws) this.alive();
      ws.pong(data);
    });
    ws.on('pong', () => {
      if (ws === this.ws) this.alive();
    });
    let opened = false;
    ws.on('open', () => {
      opened = true;
      if (this.stopped) return ws.terminate();
      if (rollover) {
        if (this.ws === null || this.listenKey !== key) return ws.terminate(); // dropped or renewed meanwhile
        const old = this.ws;
        this.ws = ws;
        old.close(1000, 'rollover');
      } else if (ws !== this.ws) return;
      this.attempt = 0;
      this.connections++;
      this.firstConnectedAt ??= this.now();
      this.scheduleKeepAlive();
      this.scheduleRollover(key);
      this.alive();
      this.status.next({ kind: 'connected', listenKeyRenewed: renewed, ...(rollover ? { rollover } : {}) });
      // anything may have happened while no socket was open
      if (this.connections > 1 && !rollover) this.queueCatchUp(false);
    });
    ws.on('message', (data: Buffer) => {
      if (ws !== this.ws) return;
      this.alive();
      const text = data.toString('utf8');
      const r = parseUserEvent(text);
      if (!r.ok) return this.status.next({ kind: 'error', detail: r.detail, raw: text.slice(0, 500) });
      this.onSocketEvent(r.event);
      if (r.event.kind === 'listen-key-expired') void this.renew();
    });
    ws.on('error', (e: Error) => this.status.next({ kind: 'error', detail: `websocket: ${e.message}` }));
    ws.on('close', (code: number) => {
      // a rollover that never opened: the current socket lives on; try again before the 24 h cut
      if (rollover && !opened && !this.stopped && this.ws !== null && this.listenKey === key)
        return this.scheduleRollover(key, ROLLOVER_RETRY_MS);
      if (ws !== this.ws || this.stopped) return;
      this.ws = null;
      this.retryLater(code);
    });
  }

  private onSocketEvent(e: UserEvent): void {
    if (e.kind === 'order-update') {
      this.lastEventTime = Math.max(this.lastEventTime, e.eventTime);
      const key = orderKey(e);
      if (key !== null && !this.remember(key)) return; // the catch-up emitted it already
    } else if (e.kind === 'account-update') {
      this.lastEventTime = Math.max(this.lastEventTime, e.eventTime);
      if (e.reason === 'FUNDING_FEE') {
        const moved = e.balances.filter((b) => b.change !== 0);
        for (const b of moved) this.remember(fundingKey(b.asset, e.transactionTime, b.change));
        // bc "0": the amount is only in the ledger — read it there rather than drop it
        if (moved.length === 0) {
          if (this.opts.catchUp) this.queueCatchUp(true, e.transactionTime);
          else
            this.status.next({
              kind: 'error',
              detail: `FUNDING_FEE at ${e.transactionTime} carries no balance change and no income API is configured to read it`,
            });
        }
      }
    }
    this.events.next(e);
  }

  /** true when the key is new */
  private remember(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.seenOrder.push(key);
    if (this.seenOrder.length > MAX_SEEN) this.seen.delete(this.seenOrder.shift()!);
    return true;
  }

  private queueCatchUp(fundingOnly: boolean, around?: number): void {
    const api = this.opts.catchUp;
    if (api === undefined) return;
    const slack = this.opts.catchUpSlackMs ?? 5_000;
    const first = this.firstConnectedAt ?? this.now();
    const last = Number.isFinite(this.lastEventTime) ? this.lastEventTime : first;
    const since = Math.max(first - slack, Math.min(last, around ?? last) - slack);
    this.catchUpQueue = this.catchUpQueue.then(async () => {
      if (this.stopped) return;
      try {
        await this.catchUp(api, since, fundingOnly);
      } catch (e) {
        this.status.next({
          kind: 'error',
          detail: `user-data catch-up since ${since} failed: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    });
  }

  /** A transient REST failure is retried with back-off, a bounded number of times. */
  private async retried<T>(fetch: () => Promise<T>, attempts = 8): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch();
      } catch (error) {
        if (attempt + 1 >= attempts || this.stopped) throw error;
        const ms = backoffDelay(attempt, 250, 4000);
        await new Promise<void>((resolve) => this.scheduler.setTimeout(resolve, ms));
      }
    }
  }

  /** every trade of `symbol` from `since`, page by page (1000 a page, at most 20 pages) */
  private async tradesSince(api: UserCatchUpApi, symbol: string, since: number): Promise<AsterUserTrade[]> {
    const out: AsterUserTrade[] = [];
    let page = await this.retried(() => api.userTrades({ symbol, startTime: since, limit: 1000 }));
    for (let n = 1; ; n++) {
      out.push(...page);
      if (page.length < 1000 || n >= 20) break;
      const fromId = Math.max(...page.map((t) => t.id)) + 1;
      page = await this.retried(() => api.userTrades({ symbol, fromId, limit: 1000 }));
    }
    const ids = new Set<number>();
    return out.filter((t) => !ids.has(t.id) && (ids.add(t.id), true));
  }

  private async catchUp(api: UserCatchUpApi, since: number, fundingOnly: boolean): Promise<void> {
    const out: { time: number; seq: number; event: UserEvent; key: string }[] = [];
    let fills = 0;
    let orders = 0;
    let funding = 0;
    if (!fundingOnly) {
      const open = await this.retried(() => api.openOrders());
      const symbols = [...new Set([...(this.opts.symbols ?? []), ...open.map((o) => o.symbol)])];
      for (const symbol of symbols) {
        const [all, trades] = await Promise.all([
          this.retried(() => api.allOrders({ symbol, limit: 1000 })),
          this.tradesSince(api, symbol, since),
        ]);
        const byId = new Map(all.map((o) => [o.orderId, o]));
        const recent = trades.filter((t) => t.time >= since).sort((a, b) => a.id - b.id);
        for (const [i, t] of recent.entries()) {
          const o = byId.get(t.orderId);
          // the cumulative quantity after this trade: what the order has now, less its later trades
          const later = recent.slice(i + 1).filter((x) => x.orderId === t.orderId);
          const executed =
            o?.executedQty ?? recent.filter((x) => x.orderId === t.orderId).reduce((a, x) => a + x.qty, 0);
          const cumQty = executed - later.reduce((a, x) => a + x.qty, 0);
          const status = later.length === 0 && o !== undefined ? o.status : 'PARTIALLY_FILLED';
          const e = tradeUpdate(t, o, cumQty, status === 'NEW' ? 'PARTIALLY_FILLED' : status);
          out.push({ time: t.time, seq: t.id, event: e, key: orderKey(e)! });
        }
        // orders that ended without a fill while the socket was down
        for (const o of all) {
          const at = o.updateTime ?? o.time ?? 0;
          if (at < since || (o.executedQty ?? 0) > 0) continue;
          if (o.status !== 'CANCELED' && o.status !== 'EXPIRED' && o.status !== 'REJECTED') continue;
          const e = endUpdate(o, at);
          out.push({ time: at, seq: o.orderId, event: e, key: orderKey(e)! });
        }
      }
    }
    const income = await this.retried(() => api.income({ incomeType: 'FUNDING_FEE', startTime: since, limit: 1000 }));
    for (const r of income) {
      if (r.incomeType !== 'FUNDING_FEE' || r.time < since) continue;
      const e: FundingIncome = {
        kind: 'funding-income',
        symbol: r.symbol ?? '',
        asset: r.asset,
        income: r.income,
        time: r.time,
        tranId: r.tranId,
      };
      out.push({ time: r.time, seq: r.tranId, event: e, key: `funding-tran:${r.tranId}` });
    }
    out.sort((a, b) => a.time - b.time || a.seq - b.seq);
    for (const x of out) {
      if (this.stopped) return;
      if (!this.remember(x.key)) continue;
      if (x.event.kind === 'funding-income') {
        // the socket may have carried it (with bc); the ledger row is then a repeat
        if (!this.remember(fundingKey(x.event.asset, x.event.time, x.event.income))) continue;
        funding++;
      } else if (x.event.kind === 'order-update') {
        if (x.event.executionType === 'TRADE') fills++;
        else orders++;
      }
      this.lastEventTime = Math.max(this.lastEventTime, x.time);
      this.events.next(x.event);
    }
    this.status.next({ kind: 'caught-up', since, fills, orders, funding });
  }

  private retryLater(code: number): void {
    if (this.stopped) return;
    if (this.silenceTimer !== null) this.scheduler.clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
    const delay = backoffDelay(this.attempt++, this.opts.backoffInitialMs ?? 500, this.opts.backoffMaxMs ?? 30_000);
    this.status.next({ kind: 'disconnected', code, retryInMs: delay });
    if (this.reconnectTimer !== null) this.scheduler.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) void this.open(false);
    }, delay);
  }

  /** a frame arrived: the silence watchdog starts over */
  private alive(): void {
    if (this.silenceTimer !== null) this.scheduler.clearTimeout(this.silenceTimer);
    const bound = this.opts.silenceMs ?? 10 * 60_000;
    this.silenceTimer = this.scheduler.setTimeout(() => {
      this.silenceTimer = null;
      const ws = this.ws;
      if (this.stopped || ws === null) return;
      this.status.next({ kind: 'silent', forMs: bound });
      this.ws = null;
      ws.terminate();
      this.retryLater(SILENT_CLOSE_CODE);
    }, bound);
  }

  private scheduleRollover(key: string, ms = this.opts.rolloverMs ?? 23 * 3_600_000): void {
    if (this.rolloverTimer !== null) this.scheduler.clearTimeout(this.rolloverTimer);
    this.rolloverTimer = this.scheduler.setTimeout(() => {
      this.rolloverTimer = null;
      if (!this.stopped && this.listenKey === key && this.ws !== null) this.connect(key, false, true);
    }, ms);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    await this.open(true);
  }

  private scheduleKeepAlive(): void {
    if (this.keepAliveTimer !== null) this.scheduler.clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = this.scheduler.setTimeout(
      () => {
        this.keepAliveTimer = null;
        if (this.stopped) return;
        this.opts.rest.keepAliveListenKey().then(
          () => {
            this.status.next({ kind: 'keep-alive', ok: true });
            this.scheduleKeepAlive();
          },
          () => {
            this.status.next({ kind: 'keep-alive', ok: false });
            void this.renew();
          },
        );
      },
      this.opts.keepAliveMs ?? 30 * 60_000,
    );
  }
}

/** a fill by its trade id; an order's end (no fill) by order id and status; other updates: none */
function orderKey(e: OrderUpdate): string | null {
  if (e.executionType === 'TRADE' && e.lastQty > 0)
    return e.tradeId > 0 ? `trade:${e.symbol}:${e.tradeId}` : `trade:${e.symbol}:${e.orderId}:${e.cumQty}`;
  if (e.executionType === 'CANCELED' || e.executionType === 'EXPIRED' || e.status === 'REJECTED')
    return `end:${e.symbol}:${e.orderId}:${e.status}`;
  return null;
}

function fundingKey(asset: string, time: number, amount: number): string {
  return `funding:${asset}:${time}:${amount.toFixed(8)}`;
}

function tradeUpdate(t: AsterUserTrade, o: AsterOrder | undefined, cumQty: number, status: string): OrderUpdate {
  return {
    kind: 'order-update',
    eventTime: t.time,
    symbol: t.symbol,
    clientOrderId: o?.clientOrderId ?? '',
    orderId: t.orderId,
    side: t.side === 'SELL' ? 'SELL' : 'BUY',
    orderType: o?.type ?? '',
    executionType: 'TRADE',
    status,
    origQty: o?.origQty ?? cumQty,
    price: o?.price ?? 0,
    avgPrice: o?.avgPrice ?? 0,
    stopPrice: o?.stopPrice ?? 0,
    lastQty: t.qty,
    lastPrice: t.price,
    cumQty,
    commission: t.commission ?? 0,
    commissionAsset: t.commissionAsset ?? '',
    tradeTime: t.time,
    tradeId: t.id,
    isMaker: t.maker ?? false,
    reduceOnly: o?.reduceOnly ?? false,
    closePosition: o?.closePosition ?? false,
    positionSide: t.positionSide ?? o?.positionSide ?? 'BOTH',
    realizedPnl: t.realizedPnl ?? 0,
  };
}

function endUpdate(o: AsterOrder, at: number): OrderUpdate {
  return {
    kind: 'order-update',
    eventTime: at,
    symbol: o.symbol,
    clientOrderId: o.clientOrderId,
    orderId: o.orderId,
    side: o.side === 'SELL' ? 'SELL' : 'BUY',
    orderType: o.type,
    executionType: o.status === 'REJECTED' ? 'REJECTED' : o.status,
    status: o.status,
    origQty: o.origQty ?? 0,
    price: o.price ?? 0,
    avgPrice: o.avgPrice ?? 0,
    stopPrice: o.stopPrice ?? 0,
    lastQty: 0,
    lastPrice: 0,
    cumQty: 0,
    commission: 0,
    commissionAsset: '',
    tradeTime: at,
    tradeId: 0,
    isMaker: false,
    reduceOnly: o.reduceOnly ?? false,
    closePosition: o.closePosition ?? false,
    positionSide: o.positionSide ?? 'BOTH',
    realizedPnl: 0,
  };
}
