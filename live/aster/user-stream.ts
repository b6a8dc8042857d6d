import { Subject } from 'rxjs';
import WebSocket from 'ws';
import { SapphireError } from '../../pipelines/errors.ts';
import type { Timers } from '../../pipelines/ports.ts';
import { backoffDelay } from '../../pipelines/backoff.ts';
import { backgroundTimers } from '../../runtime/timers.ts';
import {
  beyondKnown,
  fundingKey,
  orderKey,
  readMissedEvents,
  type CatchUpRead,
  type MissedEvent,
  type UserCatchUpApi,
} from './fill-catch-up.ts';
import { parseUserEvent, type OrderUpdate, type UserEvent } from './user-events.ts';

export * from './user-events.ts';
export type { UserCatchUpApi } from './fill-catch-up.ts';

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

export interface UserStreamOptions {
  /** e.g. wss://fstream.asterdex.com (user data is at /ws/<listenKey>) */
  readonly wsUrl: string;
  readonly rest: ListenKeyApi;
  readonly scheduler?: Timers;
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
  /** startCaughtUp: the longest wait for the first socket before the start fails; default 30 s */
  readonly connectWaitMs?: number;
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
  private readonly scheduler: Timers;
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
  /** where the restart's catch-up read from: a reconnect's catch-up never reads older */
  private restartReadFrom = -Infinity;
  private connections = 0;
  /** the newest event time seen (socket or catch-up) */
  private lastEventTime = -Infinity;
  /**
   * the oldest event time seen: the catch-up floor when the exchange stamps events behind its
   * serverTime (a replaying simulator stamps them on its market clock); never later than the
   * first connection, so a one-clock exchange keeps that floor
   */
  private firstEventTime = Infinity;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  /**
   * per client order id, the quantity the journal held at a restart: a catch-up whose window
   * reaches back into an earlier life of the process reads trades the journal holds but this
   * process never saw (no trade id to remember them by), and they must not count again. Trades
   * of this life are told apart by trade id, so the map is only ever the journal's.
   */
  private journaledAtStart: ReadonlyMap<string, number> = new Map();
  private catchUpQueue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: UserStreamOptions) {
    this.scheduler = opts.scheduler ?? backgroundTimers;
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
    if (e.kind === 'order-update' || e.kind === 'account-update')
      this.firstEventTime = Math.min(this.firstEventTime, e.eventTime);
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
    const first = Math.min(this.firstConnectedAt ?? this.now(), this.firstEventTime);
    const last = Number.isFinite(this.lastEventTime) ? this.lastEventTime : first;
    const since = Math.max(first - slack, this.restartReadFrom, Math.min(last, around ?? last) - slack);
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
  private readonly retried = async <T>(fetch: () => Promise<T>, attempts = 8): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch();
      } catch (error) {
        if (attempt + 1 >= attempts || this.stopped) throw error;
        const ms = backoffDelay(attempt, 250, 4000);
        await new Promise<void>((resolve) => this.scheduler.setTimeout(resolve, ms));
      }
    }
  };

  /** After a reconnect: what the socket missed, emitted on `events` once each. */
  private async catchUp(api: UserCatchUpApi, since: number, fundingOnly: boolean): Promise<void> {
    const read = await readMissedEvents(api, this.retried, { since, symbols: this.opts.symbols ?? [], fundingOnly });
    const counts = { fills: 0, orders: 0, funding: 0 };
    for (const x of this.unseen(beyondKnown(read, new Map(this.journaledAtStart)))) {
      if (this.stopped) return;
      if (x.event.kind === 'funding-income') counts.funding++;
      else if (x.event.kind === 'order-update' && x.event.executionType === 'TRADE') counts.fills++;
      else counts.orders++;
      this.events.next(x.event);
    }
    this.status.next({ kind: 'caught-up', since, ...counts });
  }

  /** the events not seen yet (socket or an earlier catch-up), now remembered */
  private unseen(read: readonly MissedEvent[]): MissedEvent[] {
    const out: MissedEvent[] = [];
    for (const x of read) {
      if (!this.remember(x.key)) continue;
      // the socket may have carried a funding payment (with bc); the ledger row is then a repeat
      if (x.event.kind === 'funding-income' && !this.remember(fundingKey(x.event.asset, x.event.time, x.event.income)))
        continue;
      this.lastEventTime = Math.max(this.lastEventTime, x.time);
      out.push(x);
    }
    return out;
  }

  /**
   * The start of a restarted service, before anything is sent: opens the socket (so nothing
   * that happens from now on is missed), then reads back the fills since `since` beyond what the
   * journal holds per client order id (`journaled`). They are returned, not emitted: the caller
   * puts them into the pipeline where a restart puts venue events. The socket's later repeats of
   * them are dropped like any catch-up's.
   */
  async startCaughtUp(since: number, journaled: ReadonlyMap<string, number>): Promise<OrderUpdate[]> {
    const api = this.opts.catchUp;
    if (api === undefined)
      throw new SapphireError(
        'SETTINGS_INVALID',
        'the user stream has no REST catch-up API: a restart cannot read missed fills',
      );
    const open = this.connections > 0 && this.ws?.readyState === WebSocket.OPEN;
    const connected = open ? Promise.resolve() : this.nextConnection(this.opts.connectWaitMs ?? 30_000);
    await this.start();
    await connected;
    const read: CatchUpRead = { since, symbols: this.opts.symbols ?? [], fillsOnly: true };
    const all = await readMissedEvents(api, this.retried, read);
    this.journaledAtStart = journaled;
    const beyond = new Map(beyondKnown(all, new Map(journaled)).map((x) => [x.key, x]));
    // every trade read is remembered, the journal's own too, and no later catch-up reads from
    // before here: a reconnect must not take a fill of an earlier life again (soak 8: doubled
    // journal fills); the journal's quantities guard the same across any window
    this.restartReadFrom = since;
    const fresh = this.unseen(all).flatMap((x) => {
      const b = beyond.get(x.key);
      return b === undefined ? [] : [b.event as OrderUpdate];
    });
    this.status.next({ kind: 'caught-up', since, fills: fresh.length, orders: 0, funding: 0 });
    return fresh;
  }

  /**
   * A restart's own fills (remainders the order lookups found, trades read back) join what the
   * journal held: a later catch-up that reads their trades again does not count them twice.
   */
  addJournaled(fills: readonly { clientOrderId: string; quantity: number }[]): void {
    const next = new Map(this.journaledAtStart);
    for (const f of fills) next.set(f.clientOrderId, (next.get(f.clientOrderId) ?? 0) + f.quantity);
    this.journaledAtStart = next;
  }

  /** resolves at the next socket open; an error naming the wait when none opens within `ms` */
  private nextConnection(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.scheduler.setTimeout(() => {
        sub.unsubscribe();
        reject(new SapphireError('EXCHANGE_UNAVAILABLE', `user-data stream: no connection within ${ms} ms`));
      }, ms);
      const sub = this.status.subscribe((s) => {
        if (s.kind !== 'connected') return;
        this.scheduler.clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      });
    });
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
