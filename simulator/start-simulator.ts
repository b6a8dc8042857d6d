import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BarColumns, FundingRate, SymbolFilters } from '../pipelines/model/index.ts';
import { asterFilters } from '../pipelines/instruments.ts';
import { floorToStep, roundToTick } from '../operators/execution/precision.kernel.ts';
import {
  accountOf,
  applyFunding,
  availableBalance,
  cancelAll,
  cancelOrder,
  createEngine,
  fillAtMarket,
  findOrder,
  leverageOf,
  liquidationPriceOf,
  marginOf,
  onBar,
  openOrderMargin,
  openOrders,
  placeOrder,
  positionOf,
  setLeverage,
  unrealised,
  type Engine,
  type EngineEvent,
  type OrderRequest,
  type OrderType,
  type Position,
  type SimFill,
  type SimOrder,
  type TimeInForce,
} from './matching.kernel.ts';
import { V1Auth, V3Auth, type V1Credential, type V3Credential } from './auth.ts';
import { FaultInjector, type FaultCounters, type FaultKind, type FaultOptions, type FaultPlan } from './faults.ts';
import { Replay, klines, klineIntervalMs, intervalName } from './replay.ts';
import { IncomeLedger } from './income.ts';
import { FundingSchedule } from './funding.ts';
import { formatsFor, money, orderJson, orderTradeUpdate, positionRow, type Formats } from './payloads.ts';
import { maintenanceMargin, maxNotional, type BracketTable } from '../pipelines/margin/margin.kernel.ts';

/**
 * An Aster-compatible exchange on 127.0.0.1: REST (V1 HMAC and V3 EIP-712), market and user-data
 * WebSockets, a matching engine over a replay of real bars, and fault injection.
 *
 * Times: `serverTime`, order times and WS event times (`E`) come from the wall clock (`clock.now`),
 * so real clients can sign with their own clock; kline times, funding times and the
 * "latest price" come from the replayed market (see `Replay` and matching.kernel.ts).
 *
 * Depth and book ticker are derived, not invented: best bid = the last close rounded DOWN to the tick,
 * best ask = best bid + one tick; further levels step one tick outwards. Their quantities are
 * synthetic (the last bar's volume / 100, floored to the step, at least minQty) — quantities only.
 * The aggTrade stream carries the close of each replayed bar with that bar's whole volume, plus the
 * simulator's own fills.
 */

export interface SimulatorClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout?(handle: unknown): void;
}

export interface SimulatorOptions {
  series: BarColumns[];
  host?: string;
  port?: number;
  /** market bar period, e.g. 300000 (default: the first series' interval) */
  barIntervalMs?: number;
  /** wall ms per replayed bar; 0 = only `advance()` moves the market */
  replayMs: number;
  /** bars released at start (index into the first series); default 0 */
  startIndex?: number;
  initialBalance: number;
  /** V1 keys and/or V3 API wallets (a V3 entry may also be given here) */
  credentials?: (V1Credential | V3Credential)[];
  v3Credentials?: V3Credential[];
  takerFee?: number;
  makerFee?: number;
  slippageBps?: number;
  defaultLeverage?: number;
  /** funding per 8 h when `fundingRates` has no entry (default 0.0001) */
  fundingRate?: number;
  fundingRates?: readonly FundingRate[];
  fundingIntervalMs?: number;
  /** EIP-712 chain id (1666 mainnet, 714 testnet) */
  chainId?: number;
  faults?: FaultPlan;
  clock?: SimulatorClock;
  /** request weight per minute per IP before 429 (default 2400); 418 after 3 429s in a minute */
  weightLimit?: number;
  /** WS ping period and the time without a pong before a socket is dropped */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  listenKeyTtlMs?: number;
  /** a WebSocket connection is closed after this long (Aster: 24 h) */
  maxConnectionMs?: number;
  /** exchange filters per symbol (default: the real Aster exchangeInfo of 2026-01-12) */
  filters?: ReadonlyMap<string, SymbolFilters>;
  /** leverage brackets for margin and liquidation (default: the shipped table, pipelines/margin) */
  brackets?: BracketTable;
  /** liquidation fee rate on the liquidated notional (default 0.025) */
  liquidationFee?: number;
  /** ORDERS limits per account (Aster: 300 per 10 s, 1200 per minute); over them a new order gets 429 / -1015 */
  orderLimitPer10s?: number;
  orderLimitPerMinute?: number;
}

export interface SimulatorState {
  cursorTime: number;
  balance: number;
  availableBalance: number;
  positions: Position[];
  openOrders: SimOrder[];
  orders: SimOrder[];
  fills: SimFill[];
  fundingPaid: number;
  faults: FaultCounters;
  accounts: string[];
  marketSockets: number;
  userSockets: number;
}

export interface ExchangeSimulator {
  restUrl: string;
  wsUrl: string;
  state(account?: string): SimulatorState;
  injectFault(kind: FaultKind, opts?: FaultOptions): void;
  setFaults(plan: FaultPlan | undefined): void;
  /** releases n more bars (all series), returns how many steps happened (fewer at the end of data) */
  advance(n?: number): number;
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

const bad = (code: number, msg: string, status = 400): ApiError => new ApiError(status, code, msg);
const missing = (name: string): ApiError =>
  bad(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

type Security = 'NONE' | 'KEY' | 'SIGNED';

interface Ctx {
  method: string;
  name: string;
  version: number;
  params: URLSearchParams;
  account: string;
  now: number;
}

interface Reply {
  status?: number;
  body: unknown;
}

const EXCHANGE_INFO_FILE = fileURLToPath(new URL('../pipelines/aster-exchange-info-2026-01-12.json', import.meta.url));
const EIGHT_HOURS = 8 * 3_600_000;

/**
 * The versions a route is documented under (reference/aster-api.md §2); any other answers 404.
 * Default: /fapi/v1 (HMAC) and /fapi/v3 (EIP-712). `account` is v4 in the docs, v2 for third-party
 * clients and v3 in ccxt's list; `accountWithJoinMargin` is its v3 name.
 */
const ROUTE_VERSIONS: Readonly<Record<string, readonly number[]>> = {
  balance: [2, 3],
  positionRisk: [2, 3],
  account: [2, 3, 4],
  accountWithJoinMargin: [3],
};

/** orders in a batchOrders request, for the ORDERS limits (a malformed list counts as one; the route rejects it) */
function batchSize(params: URLSearchParams): number {
  try {
    const list = JSON.parse(params.get('batchOrders') ?? '') as unknown;
    return Array.isArray(list) ? Math.max(1, list.length) : 1;
  } catch {
    return 1;
  }
}

function klineWeight(limit: number): number {
  return limit < 100 ? 1 : limit < 500 ? 2 : limit <= 1000 ? 5 : 10;
}
function depthWeight(limit: number): number {
  return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
}

export async function startExchangeSimulator(opts: SimulatorOptions): Promise<ExchangeSimulator> {
  const clock: SimulatorClock = opts.clock ?? {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  };
  const timers = new Set<unknown>();
  let closed = false;
  const later = (fn: () => void, ms: number): void => {
    const h = clock.setTimeout(() => {
      timers.delete(h);
      if (!closed) fn();
    }, ms);
    timers.add(h);
  };

  const allFilters = opts.filters ?? asterFilters();
  const filters = new Map<string, SymbolFilters>();
  for (const s of opts.series) {
    const f = allFilters.get(s.symbol);
    if (!f) throw new Error(`no exchange filters for ${s.symbol} (known: ${[...allFilters.keys()].join(', ')})`);
    filters.set(s.symbol, f);
  }
  const fmt = new Map<string, Formats>([...filters].map(([s, f]) => [s, formatsFor(f)]));
  const fmtOf = (symbol: string): Formats => fmt.get(symbol) ?? formatsFor(undefined);

  const engine: Engine = createEngine({
    filters,
    takerFee: opts.takerFee ?? 0.00035,
    makerFee: opts.makerFee ?? 0.0001,
    slippageBps: opts.slippageBps ?? 0,
    initialBalance: opts.initialBalance,
    defaultLeverage: opts.defaultLeverage ?? 20,
    maxNumOrders: 200,
    maxNumAlgoOrders: 10,
    ...(opts.brackets !== undefined ? { brackets: opts.brackets } : {}),
    ...(opts.liquidationFee !== undefined ? { liquidationFee: opts.liquidationFee } : {}),
  });
  const v1Creds = (opts.credentials ?? []).filter((c): c is V1Credential => 'apiKey' in c);
  const v3Creds = [
    ...(opts.credentials ?? []).filter((c): c is V3Credential => 'signer' in c),
    ...(opts.v3Credentials ?? []),
  ];
  const v1 = new V1Auth(v1Creds);
  const v3 = new V3Auth(v3Creds, opts.chainId ?? 1666);
  for (const c of v1Creds) accountOf(engine, c.account ?? c.apiKey);
  for (const c of v3Creds) accountOf(engine, c.account ?? c.user.toLowerCase());
  const faults = new FaultInjector(opts.faults, () => clock.now());

  const intervalMs = opts.barIntervalMs ?? opts.series[0]!.intervalMs;
  const replay = new Replay(opts.series, intervalMs, opts.startIndex ?? 0);
  const funding = new FundingSchedule(
    opts.series.map((x) => x.symbol),
    opts.fundingRates ?? [],
    opts.fundingRate ?? 0.0001,
    opts.fundingIntervalMs ?? EIGHT_HOURS,
  );
  let tradeSeq = 1;
  let bookSeq = 1;
  const income = new IncomeLedger();

  // ---------------- WebSocket state ----------------
  interface MarketSocket {
    ws: WebSocket;
    combined: boolean;
    streams: Set<string>;
    lastPong: number;
    msgWindow: number;
    msgCount: number;
  }
  interface UserKey {
    key: string;
    account: string;
    expiresAt: number;
    sockets: Set<WebSocket>;
  }
  const marketSockets = new Set<MarketSocket>();
  const listenKeys = new Map<string, UserKey>();
  const keyByAccount = new Map<string, string>();
  const pongs = new Map<WebSocket, number>();
  const listenKeyTtl = opts.listenKeyTtlMs ?? 60 * 60_000;

  function send(ws: WebSocket, text: string): void {
    if (ws.readyState === ws.OPEN) ws.send(text);
  }

  function publish(stream: string, payload: unknown): void {
    let raw: string | undefined;
    let wrapped: string | undefined;
    for (const s of marketSockets) {
      if (!s.streams.has(stream)) continue;
      if (s.combined) send(s.ws, (wrapped ??= JSON.stringify({ stream, data: payload })));
      else send(s.ws, (raw ??= JSON.stringify(payload)));
    }
  }

  function toUser(account: string, payload: unknown): void {
    const key = keyByAccount.get(account);
    const uk = key ? listenKeys.get(key) : undefined;
    if (!uk || uk.sockets.size === 0) return;
    const text = JSON.stringify(payload);
    for (const ws of uk.sockets) send(ws, text);
  }

  function accountUpdate(account: string, reason: 'ORDER' | 'FUNDING_FEE', symbols: string[], time: number): unknown {
    const a = accountOf(engine, account);
    // a funding settlement moves the balance by its ledger amount; order updates report 0 here
    const balanceChange = (): string =>
      reason === 'FUNDING_FEE' && symbols.length === 1 ? money(income.change(account, symbols[0]!, time)) : '0';
    const P =
      reason === 'FUNDING_FEE'
        ? []
        : symbols.map((s) => {
            const p = positionOf(a, s);
            return {
              s,
              pa: fmtOf(s).qty(p.amount),
              ep: p.entryPrice.toFixed(5),
              cr: money(a.realized.get(s) ?? 0),
              up: money(unrealised(engine, p)),
              mt: 'cross',
              iw: '0.00000000',
              ps: 'BOTH',
            };
          });
    return {
      e: 'ACCOUNT_UPDATE',
      E: clock.now(),
      T: time,
      a: { m: reason, B: [{ a: 'USDT', wb: money(a.balance), cw: money(a.balance), bc: balanceChange() }], P },
    };
  }

  function listening(account: string): boolean {
    const key = keyByAccount.get(account);
    return key !== undefined && (listenKeys.get(key)?.sockets.size ?? 0) > 0;
  }

  function dispatch(events: readonly EngineEvent[]): void {
    const now = clock.now();
    for (const ev of events) {
      if (ev.kind !== 'trade' && !listening(ev.account)) continue;
      if (ev.kind === 'order') {
        toUser(ev.account, orderTradeUpdate(ev.order, ev.execType, ev.fill, fmtOf(ev.order.symbol), now));
      } else if (ev.kind === 'account') {
        toUser(
          ev.account,
          accountUpdate(ev.account, ev.reason, ev.symbols, ev.reason === 'FUNDING_FEE' ? ev.time : now),
        );
      } else {
        const f = fmtOf(ev.symbol);
        const id = tradeSeq++;
        publish(`${ev.symbol.toLowerCase()}@aggTrade`, {
          e: 'aggTrade',
          E: now,
          s: ev.symbol,
          a: id,
          p: f.price(ev.price),
          q: f.qty(ev.qty),
          f: ev.tradeId,
          l: ev.tradeId,
          T: now,
          m: ev.buyerIsMaker,
        });
      }
    }
  }

  // ---------------- market views ----------------
  function book(symbol: string): { bid: number; ask: number; qty: number; tick: number; step: number } {
    const f = filters.get(symbol)!;
    const last = engine.last.get(symbol) ?? replay.lastClose(symbol) ?? 0;
    const tick = f.tickSize > 0 ? f.tickSize : 1e-8;
    const bid = roundToTick(last, tick, 'down');
    const ask = roundToTick(bid + tick, tick, 'nearest');
    const s = replay.bySymbol.get(symbol)!;
    const i = Math.max(0, replay.lastIndex(symbol));
    const step = f.stepSize > 0 ? f.stepSize : 1e-8;
    const qty = Math.max(f.minQty, floorToStep(s.volume[i]! / 100, step));
    return { bid, ask, qty, tick, step };
  }

  function markPayload(symbol: string): Record<string, unknown> {
    const last = engine.last.get(symbol) ?? 0;
    return {
      symbol,
      markPrice: last.toFixed(8),
      indexPrice: last.toFixed(8),
      estimatedSettlePrice: last.toFixed(8),
      lastFundingRate: funding.lastRate(symbol, replay.cursorTime).toFixed(8),
      nextFundingTime: funding.nextTime(symbol, replay.cursorTime),
      interestRate: '0.00010000',
      time: clock.now(),
    };
  }

  /** which partial-depth and ticker streams anyone listens to, so nothing is built for nobody */
  function listened(prefix: string): string[] {
    const out = new Set<string>();
    for (const ms of marketSockets) for (const st of ms.streams) if (st.startsWith(prefix)) out.add(st);
    return [...out];
  }

  function publishDepthAndTickers(sym: string, now: number, b: ReturnType<typeof book>): void {
    const lower = sym.toLowerCase();
    const f = fmtOf(sym);
    for (const st of listened(`${lower}@depth`)) {
      const levels = Number(/^[a-z0-9]+@depth(\d+)/.exec(st)?.[1] ?? 0);
      if (!levels) continue;
      const bids: [string, string][] = [];
      const asks: [string, string][] = [];
      for (let i = 0; i < levels; i++) {
        bids.push([f.price(roundToTick(b.bid - i * b.tick, b.tick, 'nearest')), f.qty(b.qty)]);
        asks.push([f.price(roundToTick(b.ask + i * b.tick, b.tick, 'nearest')), f.qty(b.qty)]);
      }
      publish(st, {
        e: 'depthUpdate',
        E: now,
        T: now,
        s: sym,
        U: bookSeq,
        u: bookSeq,
        pu: bookSeq - 1,
        b: bids,
        a: asks,
      });
    }
    const needTicker = listened(`${lower}@ticker`).length > 0 || listened('!ticker@arr').length > 0;
    const needMini = listened(`${lower}@miniTicker`).length > 0 || listened('!miniTicker@arr').length > 0;
    if (!needTicker && !needMini) return;
    const t = ticker24(sym);
    if (needTicker) {
      const full = {
        e: '24hrTicker',
        E: now,
        s: sym,
        p: t.priceChange,
        P: t.priceChangePercent,
        w: t.weightedAvgPrice,
        c: t.lastPrice,
        Q: t.lastQty,
        o: t.openPrice,
        h: t.highPrice,
        l: t.lowPrice,
        v: t.volume,
        q: t.quoteVolume,
        O: t.openTime,
        C: t.closeTime,
        F: t.firstId,
        L: t.lastId,
        n: t.count,
      };
      publish(`${lower}@ticker`, full);
      publish('!ticker@arr', [full]);
    }
    if (needMini) {
      const mini = {
        e: '24hrMiniTicker',
        E: now,
        s: sym,
        c: t.lastPrice,
        o: t.openPrice,
        h: t.highPrice,
        l: t.lowPrice,
        v: t.volume,
        q: t.quoteVolume,
      };
      publish(`${lower}@miniTicker`, mini);
      publish('!miniTicker@arr', [mini]);
    }
  }

  function publishBar(s: BarColumns, i: number): void {
    const sym = s.symbol;
    const lower = sym.toLowerCase();
    const f = fmtOf(sym);
    const now = clock.now();
    const iv = intervalName(s.intervalMs);
    // longer intervals: the bucket holding this bar, built from released bars only, closed with its last bar
    for (const st of listened(`${lower}@kline_`)) {
      const name = st.slice(lower.length + 7);
      const ivMs = klineIntervalMs(name);
      if (ivMs === undefined || ivMs === s.intervalMs || ivMs % s.intervalMs !== 0) continue;
      const k = klines(s, i, ivMs, undefined, undefined, 1)[0]!;
      publish(st, {
        e: 'kline',
        E: now,
        s: sym,
        k: {
          t: k.openTime,
          T: k.closeTime,
          s: sym,
          i: name,
          f: i - k.count + 1,
          L: i,
          o: f.price(k.open),
          c: f.price(k.close),
          h: f.price(k.high),
          l: f.price(k.low),
          v: f.qty(k.volume),
          n: k.count,
          x: s.openTime[i]! + s.intervalMs === k.closeTime + 1,
          q: (k.volume * k.close).toFixed(4),
          V: '0',
          Q: '0',
          B: '0',
        },
      });
    }
    publish(`${lower}@kline_${iv}`, {
      e: 'kline',
      E: now,
      s: sym,
      k: {
        t: s.openTime[i]!,
        T: s.openTime[i]! + s.intervalMs - 1,
        s: sym,
        i: iv,
        f: i,
        L: i,
        o: f.price(s.open[i]!),
        c: f.price(s.close[i]!),
        h: f.price(s.high[i]!),
        l: f.price(s.low[i]!),
        v: f.qty(s.volume[i]!),
        n: 1,
        x: true,
        q: (s.volume[i]! * s.close[i]!).toFixed(4),
        V: '0',
        Q: '0',
        B: '0',
      },
    });
    const mp = markPayload(sym);
    const mark = {
      e: 'markPriceUpdate',
      E: now,
      s: sym,
      p: mp.markPrice,
      i: mp.indexPrice,
      P: mp.estimatedSettlePrice,
      r: mp.lastFundingRate,
      T: mp.nextFundingTime,
    };
    publish(`${lower}@markPrice`, mark);
    publish(`${lower}@markPrice@1s`, mark);
    const b = book(sym);
    const bt = {
      e: 'bookTicker',
      u: bookSeq++,
      E: now,
      T: now,
      s: sym,
      b: f.price(b.bid),
      B: f.qty(b.qty),
      a: f.price(b.ask),
      A: f.qty(b.qty),
    };
    publish(`${lower}@bookTicker`, bt);
    publish('!bookTicker', bt);
    publishDepthAndTickers(sym, now, b);
    const id = tradeSeq++;
    publish(`${lower}@aggTrade`, {
      e: 'aggTrade',
      E: now,
      s: sym,
      a: id,
      p: f.price(s.close[i]!),
      q: f.qty(s.volume[i]!),
      f: id,
      l: id,
      T: s.openTime[i]! + s.intervalMs,
      m: false,
    });
  }

  // initial bars: set prices, no fills
  for (const r of replay.releaseToCursor()) engine.last.set(r.series.symbol, r.series.close[r.index]!);

  /**
   * Dead-man switches (countdownCancelAll), keyed account + symbol, on the market clock. A bar has no
   * time inside it, so a countdown ending during a bar cancels before that bar is matched.
   */
  const countdowns = new Map<string, { account: string; symbol: string; deadline: number }>();
  function expireCountdowns(upTo: number): void {
    for (const [key, c] of countdowns) {
      if (c.deadline > upTo) continue;
      countdowns.delete(key);
      dispatch(cancelAll(engine, c.account, c.symbol, c.deadline));
    }
  }

  function advance(n = 1): number {
    let steps = 0;
    for (let k = 0; k < n; k++) {
      const before = replay.cursorTime;
      const released = replay.step();
      if (released.length === 0 && replay.done()) break;
      steps++;
      expireCountdowns(replay.cursorTime);
      for (const r of released) {
        const s = r.series;
        const i = r.index;
        const events = onBar(
          engine,
          s.symbol,
          { open: s.open[i]!, high: s.high[i]!, low: s.low[i]!, close: s.close[i]! },
          clock.now(),
        );
        dispatch(events);
        publishBar(s, i);
      }
      // funding at each settlement time the market clock crossed (real history, else the default schedule)
      for (const s of opts.series) {
        const mark = engine.last.get(s.symbol);
        if (mark === undefined) continue;
        for (const ev of funding.due(s.symbol, before, replay.cursorTime)) {
          const balances = income.balances(engine);
          // reported at the wall clock like every other account event (see the Times note above)
          const at = clock.now();
          const events = applyFunding(engine, s.symbol, ev.rate, mark, at);
          income.recordFunding(engine, balances, s.symbol, at);
          dispatch(events);
        }
      }
      if (opts.series.length > 0) {
        const arr = opts.series
          .filter((s) => engine.last.has(s.symbol))
          .map((s) => {
            const mp = markPayload(s.symbol);
            return {
              e: 'markPriceUpdate',
              E: clock.now(),
              s: s.symbol,
              p: mp.markPrice,
              i: mp.indexPrice,
              P: mp.estimatedSettlePrice,
              r: mp.lastFundingRate,
              T: mp.nextFundingTime,
            };
          });
        publish('!markPrice@arr', arr);
        publish('!markPrice@arr@1s', arr);
      }
    }
    return steps;
  }

  // ---------------- rate limits ----------------
  const weights = new Map<string, { window: number; used: number; n429: number; bannedUntil: number }>();
  const weightLimit = opts.weightLimit ?? 2400;
  const orderLimits = { perTenSeconds: opts.orderLimitPer10s ?? 300, perMinute: opts.orderLimitPerMinute ?? 1200 };
  const orderCounts = new Map<string, { tenS: number; nTenS: number; minute: number; nMinute: number }>();

  /**
   * ORDERS limits per account (exchangeInfo rateLimits: 300 per 10 s, 1200 per minute): the counts go
   * out as X-MBX-ORDER-COUNT-10S / -1M; over either limit the order is refused with 429 / -1015.
   */
  function countOrders(account: string, n: number, now: number, headers: Record<string, string>): void {
    const tenS = Math.floor(now / 10_000);
    const minute = Math.floor(now / 60_000);
    const c = orderCounts.get(account) ?? { tenS, nTenS: 0, minute, nMinute: 0 };
    if (c.tenS !== tenS) [c.tenS, c.nTenS] = [tenS, 0];
    if (c.minute !== minute) [c.minute, c.nMinute] = [minute, 0];
    c.nTenS += n;
    c.nMinute += n;
    orderCounts.set(account, c);
    headers['X-MBX-ORDER-COUNT-10S'] = String(c.nTenS);
    headers['X-MBX-ORDER-COUNT-1M'] = String(c.nMinute);
    if (c.nTenS > orderLimits.perTenSeconds)
      throw new ApiError(
        429,
        -1015,
        `Too many new orders; current limit is ${orderLimits.perTenSeconds} orders per 10 SECOND.`,
      );
    if (c.nMinute > orderLimits.perMinute)
      throw new ApiError(
        429,
        -1015,
        `Too many new orders; current limit is ${orderLimits.perMinute} orders per MINUTE.`,
      );
  }

  // ---------------- REST handlers ----------------
  const sym = (ctx: Ctx, required = true): string | undefined => {
    const s = ctx.params.get('symbol');
    if (s === null || s === '') {
      if (required) throw missing('symbol');
      return undefined;
    }
    if (!filters.has(s)) throw bad(-1121, 'Invalid symbol.');
    return s;
  };
  const intParam = (ctx: Ctx, name: string): number | undefined => {
    const v = ctx.params.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v))
      throw bad(-1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
    return Number(v);
  };
  const boolParam = (ctx: Ctx, name: string): boolean | undefined => {
    const v = ctx.params.get(name);
    if (v === null || v === '') return undefined;
    const l = v.toLowerCase();
    if (l !== 'true' && l !== 'false') throw bad(-1130, `Data sent for parameter '${name}' is not valid.`);
    return l === 'true';
  };

  /** a JSON-array parameter (batchOrders, orderIdList, origClientOrderIdList), name matched case-insensitively */
  const jsonList = (ctx: Ctx, name: string): unknown[] => {
    let raw: string | null = ctx.params.get(name);
    if (raw === null) for (const [k, v] of ctx.params) if (k.toLowerCase() === name.toLowerCase()) raw = v;
    if (raw === null || raw === '') throw missing(name);
    try {
      const v = JSON.parse(raw) as unknown;
      if (!Array.isArray(v)) throw new Error('not a list');
      return v;
    } catch {
      throw bad(-1130, `Data sent for parameter '${name}' is not valid.`);
    }
  };

  let infoCache: ({ symbols: { symbol: string }[] } & Record<string, unknown>) | undefined;
  function exchangeInfo(): unknown {
    infoCache ??= JSON.parse(readFileSync(EXCHANGE_INFO_FILE, 'utf8')) as { symbols: { symbol: string }[] } & Record<
      string,
      unknown
    >;
    return { ...infoCache, serverTime: clock.now(), symbols: infoCache.symbols.filter((s) => filters.has(s.symbol)) };
  }

  function ticker24(symbol: string): Record<string, unknown> {
    const s = replay.bySymbol.get(symbol)!;
    const last = replay.lastIndex(symbol);
    const f = fmtOf(symbol);
    const from = replay.cursorTime - 86_400_000;
    let first = last;
    while (first > 0 && s.openTime[first - 1]! >= from) first--;
    let hi = -Infinity;
    let lo = Infinity;
    let vol = 0;
    let qv = 0;
    for (let i = first; i <= last; i++) {
      hi = Math.max(hi, s.high[i]!);
      lo = Math.min(lo, s.low[i]!);
      vol += s.volume[i]!;
      qv += s.volume[i]! * s.close[i]!;
    }
    const open = s.open[first]!;
    const close = s.close[last]!;
    return {
      symbol,
      priceChange: f.price(close - open),
      priceChangePercent: (((close - open) / open) * 100).toFixed(3),
      weightedAvgPrice: f.price(vol > 0 ? qv / vol : close),
      prevClosePrice: f.price(first > 0 ? s.close[first - 1]! : open),
      lastPrice: f.price(close),
      lastQty: f.qty(s.volume[last]!),
      openPrice: f.price(open),
      highPrice: f.price(hi),
      lowPrice: f.price(lo),
      volume: f.qty(vol),
      quoteVolume: qv.toFixed(2),
      openTime: s.openTime[first]!,
      closeTime: s.openTime[last]! + s.intervalMs - 1,
      firstId: first,
      lastId: last,
      count: last - first + 1,
    };
  }

  function orderReq(ctx: Ctx): OrderRequest {
    const p = ctx.params;
    const side = p.get('side');
    const type = p.get('type');
    if (!side) throw missing('side');
    if (!type) throw missing('type');
    const positionSide = p.get('positionSide');
    if (positionSide !== null && positionSide !== 'BOTH')
      throw bad(-4061, "Order's position side does not match user's setting.");
    const str = (k: string): string | undefined => p.get(k) ?? undefined;
    const req: OrderRequest = {
      symbol: sym(ctx)!,
      side: side as OrderRequest['side'],
      type: type as OrderType,
    };
    const tif = str('timeInForce');
    if (tif !== undefined) req.timeInForce = tif as TimeInForce;
    const fields = ['quantity', 'price', 'stopPrice', 'activationPrice', 'callbackRate'] as const;
    for (const k of fields) {
      const v = str(k);
      if (v !== undefined) req[k] = v;
    }
    const ro = boolParam(ctx, 'reduceOnly');
    if (ro !== undefined) req.reduceOnly = ro;
    const cp = boolParam(ctx, 'closePosition');
    if (cp !== undefined) req.closePosition = cp;
    const cid = str('newClientOrderId');
    if (cid !== undefined) req.clientOrderId = cid;
    const wt = str('workingType');
    if (wt !== undefined) {
      if (wt !== 'MARK_PRICE' && wt !== 'CONTRACT_PRICE') throw bad(-4066, 'Invalid workingType.');
      req.workingType = wt;
    }
    const pp = str('priceProtect');
    if (pp !== undefined) req.priceProtect = pp.toUpperCase() === 'TRUE';
    return req;
  }

  interface OrderOutcome {
    reply: Reply;
    order?: SimOrder;
  }

  function newOrder(ctx: Ctx, fault: { delayMs?: number; fraction?: number; kind?: FaultKind } = {}): OrderOutcome {
    const req = orderReq(ctx);
    const defer = fault.kind === 'delayed-fill' || fault.kind === 'partial-fill';
    const res = placeOrder(engine, ctx.account, req, ctx.now, { deferFill: defer });
    if (!res.ok) throw bad(res.code, res.msg);
    dispatch(res.events);
    const o = res.order;
    if (o.pending) {
      if (fault.kind === 'partial-fill') {
        dispatch(fillAtMarket(engine, o.orderId, fault.fraction ?? 0.5, clock.now()));
        later(() => dispatch(fillAtMarket(engine, o.orderId, 1, clock.now())), fault.delayMs ?? 500);
      } else {
        later(() => dispatch(fillAtMarket(engine, o.orderId, 1, clock.now())), fault.delayMs ?? 500);
      }
    }
    const ack =
      ctx.params.get('newOrderRespType') === 'RESULT' ? o : res.events[0]?.kind === 'order' ? res.events[0].order : o;
    return { reply: { body: orderJson(ack, fmtOf(o.symbol)) }, order: o };
  }

  function idArgs(ctx: Ctx): { orderId?: number; clientId?: string } {
    const orderId = intParam(ctx, 'orderId');
    const clientId = ctx.params.get('origClientOrderId') ?? undefined;
    if (orderId === undefined && clientId === undefined) throw missing('orderId');
    return { ...(orderId !== undefined ? { orderId } : {}), ...(clientId !== undefined ? { clientId } : {}) };
  }

  function positionsOf(account: string, symbol?: string): Record<string, unknown>[] {
    const a = accountOf(engine, account);
    return opts.series
      .filter((s) => symbol === undefined || s.symbol === symbol)
      .map((s) =>
        positionRow(engine, positionOf(a, s.symbol), leverageOf(engine, a, s.symbol), fmtOf(s.symbol), 0, {
          liquidationPrice: liquidationPriceOf(engine, a, s.symbol),
          maxNotionalValue: maxNotionalOf(s.symbol, leverageOf(engine, a, s.symbol)),
        }),
      );
  }

  const brackets = engine.cfg.brackets!;
  const maxNotionalOf = (symbol: string, lev: number): string => {
    const b = brackets.get(symbol);
    return b === undefined ? '1000000' : String(maxNotional(b, lev));
  };
  const mmOf = (symbol: string, notional: number): number => {
    const b = brackets.get(symbol);
    return b === undefined ? 0 : maintenanceMargin(b, notional);
  };
  /** the /fapi/v1/leverageBracket reply: a list, or one object when a symbol is asked for */
  function bracketRows(symbol: string | undefined): unknown {
    const row = (s: string): Record<string, unknown> => ({ symbol: s, brackets: brackets.get(s) ?? [] });
    if (symbol !== undefined) return row(symbol);
    return opts.series.filter((s) => brackets.has(s.symbol)).map((s) => row(s.symbol));
  }

  function balanceRows(account: string): unknown[] {
    const a = accountOf(engine, account);
    const avail = availableBalance(engine, a);
    let upnl = 0;
    for (const p of a.positions.values()) upnl += unrealised(engine, p);
    return [
      {
        accountAlias: 'SimAccount',
        asset: 'USDT',
        balance: money(a.balance),
        crossWalletBalance: money(a.balance),
        crossUnPnl: money(upnl),
        availableBalance: money(avail),
        maxWithdrawAmount: money(Math.max(0, avail)),
        marginAvailable: true,
        updateTime: clock.now(),
      },
    ];
  }

  function accountJson(account: string): unknown {
    const a = accountOf(engine, account);
    const avail = availableBalance(engine, a);
    let upnl = 0;
    let posMargin = 0;
    for (const p of a.positions.values()) {
      upnl += unrealised(engine, p);
      posMargin += (Math.abs(p.amount) * (engine.last.get(p.symbol) ?? 0)) / leverageOf(engine, a, p.symbol);
    }
    const ordMargin = openOrderMargin(engine, a);
    const maint = marginOf(engine, a).maintenanceMargin;
    const now = clock.now();
    return {
      feeTier: 0,
      canTrade: true,
      canDeposit: true,
      canWithdraw: true,
      updateTime: now,
      totalInitialMargin: money(posMargin + ordMargin),
      totalMaintMargin: money(maint),
      totalWalletBalance: money(a.balance),
      totalUnrealizedProfit: money(upnl),
      totalMarginBalance: money(a.balance + upnl),
      totalPositionInitialMargin: money(posMargin),
      totalOpenOrderInitialMargin: money(ordMargin),
      totalCrossWalletBalance: money(a.balance),
      totalCrossUnPnl: money(upnl),
      availableBalance: money(avail),
      maxWithdrawAmount: money(Math.max(0, avail)),
      assets: [
        {
          asset: 'USDT',
          walletBalance: money(a.balance),
          unrealizedProfit: money(upnl),
          marginBalance: money(a.balance + upnl),
          maintMargin: money(maint),
          initialMargin: money(posMargin + ordMargin),
          positionInitialMargin: money(posMargin),
          openOrderInitialMargin: money(ordMargin),
          crossWalletBalance: money(a.balance),
          crossUnPnl: money(upnl),
          availableBalance: money(avail),
          maxWithdrawAmount: money(Math.max(0, avail)),
          marginAvailable: true,
          updateTime: now,
        },
      ],
      positions: opts.series.map((s) => {
        const p = positionOf(a, s.symbol);
        const lev = leverageOf(engine, a, s.symbol);
        const mark = engine.last.get(s.symbol) ?? 0;
        return {
          symbol: s.symbol,
          initialMargin: money((Math.abs(p.amount) * mark) / lev),
          maintMargin: money(mmOf(s.symbol, Math.abs(p.amount) * mark)),
          unrealizedProfit: money(unrealised(engine, p)),
          positionInitialMargin: money((Math.abs(p.amount) * mark) / lev),
          openOrderInitialMargin: '0',
          leverage: String(lev),
          isolated: false,
          entryPrice: p.entryPrice.toFixed(8),
          maxNotional: maxNotionalOf(s.symbol, lev),
          positionSide: 'BOTH',
          positionAmt: fmtOf(s.symbol).qty(p.amount),
          notional: money(p.amount * mark),
          isolatedWallet: '0',
          updateTime: p.updateTime,
        };
      }),
    };
  }

  function listenKeyCreate(account: string): string {
    const existing = keyByAccount.get(account);
    const now = clock.now();
    if (existing) {
      listenKeys.get(existing)!.expiresAt = now + listenKeyTtl;
      return existing;
    }
    const key = randomBytes(32).toString('hex');
    listenKeys.set(key, { key, account, expiresAt: now + listenKeyTtl, sockets: new Set() });
    keyByAccount.set(account, key);
    return key;
  }

  function expireListenKey(uk: UserKey): void {
    const text = JSON.stringify({ e: 'listenKeyExpired', E: clock.now() });
    for (const ws of uk.sockets) {
      send(ws, text);
      ws.close(1000, 'listenKey expired');
    }
    listenKeys.delete(uk.key);
    if (keyByAccount.get(uk.account) === uk.key) keyByAccount.delete(uk.account);
  }

  /** klines (and mark-price klines: the mark is the last price) from released bars only */
  function klineRows(ctx: Ctx): unknown[] {
    const s = sym(ctx)!;
    const iv = ctx.params.get('interval');
    if (!iv) throw missing('interval');
    const ivMs = klineIntervalMs(iv);
    const series = replay.bySymbol.get(s)!;
    if (ivMs === undefined || ivMs % series.intervalMs !== 0) throw bad(-1120, 'Invalid interval.');
    const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1500);
    if (limit <= 0) throw bad(-1130, "Data sent for parameter 'limit' is not valid.");
    const f = fmtOf(s);
    const rows = klines(series, replay.lastIndex(s), ivMs, intParam(ctx, 'startTime'), intParam(ctx, 'endTime'), limit);
    return rows.map((k) => [
      k.openTime,
      f.price(k.open),
      f.price(k.high),
      f.price(k.low),
      f.price(k.close),
      f.qty(k.volume),
      k.closeTime,
      (k.volume * k.close).toFixed(4),
      k.count,
      '0',
      '0',
      '0',
    ]);
  }

  /**
   * Public trades: one print per released bar at its close with the bar's volume, stamped at the bar's
   * close time; the id is the bar index. The data has no aggressor side, so every print reports the
   * buyer as taker (isBuyerMaker false), as the aggTrade stream does.
   */
  function barPrints(ctx: Ctx): { id: number; price: string; qty: string; quoteQty: string; time: number }[] {
    const s = sym(ctx)!;
    const series = replay.bySymbol.get(s)!;
    const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1000);
    if (limit <= 0) throw bad(-1130, "Data sent for parameter 'limit' is not valid.");
    const f = fmtOf(s);
    const last = replay.lastIndex(s);
    const fromId = intParam(ctx, 'fromId');
    const start = intParam(ctx, 'startTime');
    const end = intParam(ctx, 'endTime');
    const out = [];
    for (let i = Math.max(0, fromId ?? 0); i <= last; i++) {
      const time = series.openTime[i]! + series.intervalMs - 1;
      if ((start !== undefined && time < start) || (end !== undefined && time > end)) continue;
      out.push({
        id: i,
        price: f.price(series.close[i]!),
        qty: f.qty(series.volume[i]!),
        quoteQty: (series.volume[i]! * series.close[i]!).toFixed(4),
        time,
      });
    }
    return fromId !== undefined || start !== undefined ? out.slice(0, limit) : out.slice(-limit);
  }

  function route(ctx: Ctx): Reply {
    const { method, name } = ctx;
    switch (`${method} ${name}`) {
      case 'GET ping':
        return { body: {} };
      case 'GET time':
        return { body: { serverTime: ctx.now } };
      case 'GET exchangeInfo':
        return { body: exchangeInfo() };
      case 'GET klines':
      case 'GET markPriceKlines':
        return { body: klineRows(ctx) };
      case 'GET trades':
        return {
          body: barPrints(ctx).map((t) => ({
            id: t.id,
            price: t.price,
            qty: t.qty,
            quoteQty: t.quoteQty,
            time: t.time,
            isBuyerMaker: false,
          })),
        };
      case 'GET aggTrades':
        return {
          body: barPrints(ctx).map((t) => ({ a: t.id, p: t.price, q: t.qty, f: t.id, l: t.id, T: t.time, m: false })),
        };
      case 'GET premiumIndex': {
        const s = sym(ctx, false);
        if (s) return { body: markPayload(s) };
        return { body: opts.series.map((x) => markPayload(x.symbol)) };
      }
      case 'GET fundingRate': {
        const s = sym(ctx, false);
        const limit = Math.min(intParam(ctx, 'limit') ?? 100, 1000);
        const start = intParam(ctx, 'startTime');
        const end = intParam(ctx, 'endTime');
        const rows = opts.series
          .filter((x) => s === undefined || x.symbol === s)
          .flatMap((x) => funding.due(x.symbol, x.openTime[0]! - 1, replay.cursorTime))
          .filter((r) => (start === undefined || r.fundingTime >= start) && (end === undefined || r.fundingTime <= end))
          .sort((a, b) => a.fundingTime - b.fundingTime);
        const sel = start !== undefined ? rows.slice(0, limit) : rows.slice(Math.max(0, rows.length - limit));
        return {
          body: sel.map((r) => ({ symbol: r.symbol, fundingRate: r.rate.toFixed(8), fundingTime: r.fundingTime })),
        };
      }
      case 'GET fundingInfo':
        return {
          body: opts.series.map((s) => ({
            symbol: s.symbol,
            interestRate: '0.00010000',
            time: clock.now(),
            fundingIntervalHours: funding.intervalHours(s.symbol),
            fundingFeeCap: 0.03,
            fundingFeeFloor: -0.03,
          })),
        };
      case 'GET ticker/24hr': {
        const s = sym(ctx, false);
        return { body: s ? ticker24(s) : opts.series.map((x) => ticker24(x.symbol)) };
      }
      case 'GET ticker/price': {
        const s = sym(ctx, false);
        const one = (x: string): unknown => ({
          symbol: x,
          price: fmtOf(x).price(engine.last.get(x) ?? 0),
          time: ctx.now,
        });
        return { body: s ? one(s) : opts.series.map((x) => one(x.symbol)) };
      }
      case 'GET ticker/bookTicker': {
        const s = sym(ctx, false);
        const one = (x: string): unknown => {
          const b = book(x);
          const f = fmtOf(x);
          return {
            symbol: x,
            bidPrice: f.price(b.bid),
            bidQty: f.qty(b.qty),
            askPrice: f.price(b.ask),
            askQty: f.qty(b.qty),
            time: ctx.now,
          };
        };
        return { body: s ? one(s) : opts.series.map((x) => one(x.symbol)) };
      }
      case 'GET depth': {
        const s = sym(ctx)!;
        const limit = intParam(ctx, 'limit') ?? 500;
        if (![5, 10, 20, 50, 100, 500, 1000].includes(limit))
          throw bad(-1130, "Data sent for parameter 'limit' is not valid.");
        const b = book(s);
        const f = fmtOf(s);
        const bids: [string, string][] = [];
        const asks: [string, string][] = [];
        for (let i = 0; i < limit; i++) {
          const bp = roundToTick(b.bid - i * b.tick, b.tick, 'nearest');
          if (bp > 0) bids.push([f.price(bp), f.qty(b.qty)]);
          asks.push([f.price(roundToTick(b.ask + i * b.tick, b.tick, 'nearest')), f.qty(b.qty)]);
        }
        return { body: { lastUpdateId: bookSeq, E: ctx.now, T: ctx.now, bids, asks } };
      }
      case 'POST order':
        return newOrder(ctx).reply;
      case 'GET order':
      case 'GET openOrder': {
        const s = sym(ctx)!;
        const { orderId, clientId } = idArgs(ctx);
        const o = findOrder(engine, ctx.account, s, orderId, clientId);
        if (!o) throw bad(-2013, 'Order does not exist.');
        if (name === 'openOrder' && o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED')
          throw bad(-2013, 'Order does not exist.');
        return { body: orderJson(o, fmtOf(s)) };
      }
      case 'DELETE order': {
        const s = sym(ctx)!;
        const { orderId, clientId } = idArgs(ctx);
        const r = cancelOrder(engine, ctx.account, s, orderId, clientId, ctx.now);
        if (!r.ok) throw bad(r.code, r.msg);
        dispatch(r.events);
        return { body: orderJson(r.order, fmtOf(s)) };
      }
      case 'POST batchOrders': {
        const list = jsonList(ctx, 'batchOrders');
        if (list.length === 0 || list.length > 5)
          throw bad(-1130, "Data sent for parameter 'batchOrders' is not valid.");
        return {
          body: list.map((item) => {
            if (typeof item !== 'object' || item === null || Array.isArray(item))
              return { code: -1130, msg: "Data sent for parameter 'batchOrders' is not valid." };
            const params = new URLSearchParams();
            for (const [k, v] of Object.entries(item as Record<string, unknown>)) params.set(k, String(v));
            try {
              return newOrder({ ...ctx, params }).reply.body;
            } catch (e) {
              if (e instanceof ApiError) return { code: e.code, msg: e.message };
              throw e;
            }
          }),
        };
      }
      case 'DELETE batchOrders': {
        const s = sym(ctx)!;
        const ids =
          ctx.params.has('orderIdList') || ctx.params.has('orderidlist') ? jsonList(ctx, 'orderIdList') : undefined;
        const cids = ids === undefined ? jsonList(ctx, 'origClientOrderIdList') : undefined;
        const targets = (ids ?? cids ?? []).slice(0, 10);
        if (targets.length === 0) throw missing('orderIdList');
        return {
          body: targets.map((t) => {
            const r =
              ids !== undefined
                ? cancelOrder(engine, ctx.account, s, Number(t), undefined, ctx.now)
                : cancelOrder(engine, ctx.account, s, undefined, String(t), ctx.now);
            if (!r.ok) return { code: r.code, msg: r.msg };
            dispatch(r.events);
            return orderJson(r.order, fmtOf(s));
          }),
        };
      }
      case 'POST countdownCancelAll': {
        const s = sym(ctx)!;
        const ms = intParam(ctx, 'countdownTime');
        if (ms === undefined) throw missing('countdownTime');
        if (ms < 0) throw bad(-1130, "Data sent for parameter 'countdownTime' is not valid.");
        const key = `${ctx.account}|${s}`;
        if (ms === 0) countdowns.delete(key);
        else countdowns.set(key, { account: ctx.account, symbol: s, deadline: replay.cursorTime + ms });
        return { body: { symbol: s, countdownTime: String(ms) } };
      }
      case 'DELETE allOpenOrders': {
        const s = sym(ctx)!;
        dispatch(cancelAll(engine, ctx.account, s, ctx.now));
        return { body: { code: '200', msg: 'The operation of cancel all open order is done.' } };
      }
      case 'GET openOrders': {
        const s = sym(ctx, false);
        return { body: openOrders(engine, ctx.account, s).map((o) => orderJson(o, fmtOf(o.symbol))) };
      }
      case 'GET allOrders': {
        const s = sym(ctx)!;
        const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1000);
        const from = intParam(ctx, 'orderId');
        const all = [...accountOf(engine, ctx.account).orders.values()].filter(
          (o) => o.symbol === s && (from === undefined || o.orderId >= from),
        );
        const picked = from === undefined ? all.slice(-limit) : all.slice(0, limit);
        return { body: picked.map((o) => orderJson(o, fmtOf(s))) };
      }
      case 'GET userTrades': {
        const s = sym(ctx)!;
        const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1000);
        const f = fmtOf(s);
        const rows = accountOf(engine, ctx.account)
          .fills.filter((x) => x.symbol === s)
          .slice(-limit)
          .map((x) => ({
            buyer: x.side === 'BUY',
            commission: money(x.commission),
            commissionAsset: 'USDT',
            id: x.id,
            maker: x.maker,
            orderId: x.orderId,
            price: f.price(x.price),
            qty: f.qty(x.qty),
            quoteQty: x.quoteQty.toFixed(5),
            realizedPnl: money(x.realizedPnl),
            side: x.side,
            positionSide: 'BOTH',
            symbol: s,
            time: x.time,
          }));
        return { body: rows };
      }
      case 'GET income':
        return {
          body: income.query(ctx.account, {
            symbol: sym(ctx, false),
            incomeType: ctx.params.get('incomeType') ?? undefined,
            startTime: intParam(ctx, 'startTime'),
            endTime: intParam(ctx, 'endTime'),
            limit: intParam(ctx, 'limit'),
          }),
        };
      case 'GET balance':
        return { body: balanceRows(ctx.account) };
      case 'GET account':
      case 'GET accountWithJoinMargin':
        return { body: accountJson(ctx.account) };
      case 'GET positionRisk':
        return { body: positionsOf(ctx.account, sym(ctx, false)) };
      case 'POST leverage': {
        const s = sym(ctx)!;
        const lev = intParam(ctx, 'leverage');
        if (lev === undefined) throw missing('leverage');
        const r = setLeverage(engine, ctx.account, s, lev);
        if (r) throw bad(r.code, r.msg);
        return { body: { leverage: lev, maxNotionalValue: maxNotionalOf(s, lev), symbol: s } };
      }
      case 'GET leverageBracket': {
        const s = sym(ctx, false);
        if (s !== undefined && !brackets.has(s)) throw bad(-1121, 'Invalid symbol.');
        return { body: bracketRows(s) };
      }
      case 'POST marginType': {
        sym(ctx);
        const type = ctx.params.get('marginType');
        if (type === null || type === '') throw missing('marginType');
        if (type.toUpperCase() === 'CROSSED') throw bad(-4046, 'No need to change margin type.');
        if (type.toUpperCase() !== 'ISOLATED') throw bad(-1130, "Data sent for parameter 'marginType' is not valid.");
        // a documented limit of the simulator, not an exchange rule: its margin kernel is cross only
        throw bad(-1000, 'ISOLATED margin is not supported by the Sapphire simulator (cross margin only).');
      }
      case 'GET positionSide/dual':
        return { body: { dualSidePosition: false } };
      case 'POST positionSide/dual': {
        const dual = boolParam(ctx, 'dualSidePosition');
        if (dual === undefined) throw missing('dualSidePosition');
        if (!dual) throw bad(-4059, 'No need to change position side.');
        // a documented limit of the simulator: positions are one-way (BOTH)
        throw bad(-1000, 'Hedge mode is not supported by the Sapphire simulator (one-way mode only).');
      }
      case 'GET commissionRate': {
        const s = sym(ctx)!;
        return {
          body: {
            symbol: s,
            makerCommissionRate: String(engine.cfg.makerFee),
            takerCommissionRate: String(engine.cfg.takerFee),
          },
        };
      }
      case 'POST listenKey':
        return { body: { listenKey: listenKeyCreate(ctx.account) } };
      case 'PUT listenKey': {
        const key = keyByAccount.get(ctx.account);
        const uk = key ? listenKeys.get(key) : undefined;
        if (!uk) throw bad(-1125, 'This listenKey does not exist.');
        uk.expiresAt = ctx.now + listenKeyTtl;
        return { body: {} };
      }
      case 'DELETE listenKey': {
        const key = keyByAccount.get(ctx.account);
        const uk = key ? listenKeys.get(key) : undefined;
        if (uk) {
          for (const ws of uk.sockets) ws.close(1000, 'listenKey closed');
          listenKeys.delete(uk.key);
          keyByAccount.delete(ctx.account);
        }
        return { body: {} };
      }
      default:
        throw new ApiError(404, -1000, `Path ${method} /${name} is invalid.`);
    }
  }

  const PUBLIC = new Set([
    'ping',
    'time',
    'exchangeInfo',
    'klines',
    'markPriceKlines',
    'trades',
    'aggTrades',
    'premiumIndex',
    'fundingRate',
    'fundingInfo',
    'ticker/24hr',
    'ticker/price',
    'ticker/bookTicker',
    'depth',
  ]);

  const ROUTES = new Set([
    'GET ping',
    'GET time',
    'GET exchangeInfo',
    'GET klines',
    'GET markPriceKlines',
    'GET trades',
    'GET aggTrades',
    'GET premiumIndex',
    'GET fundingRate',
    'GET fundingInfo',
    'GET ticker/24hr',
    'GET ticker/price',
    'GET ticker/bookTicker',
    'GET depth',
    'POST order',
    'GET order',
    'GET openOrder',
    'DELETE order',
    'POST batchOrders',
    'DELETE batchOrders',
    'DELETE allOpenOrders',
    'POST countdownCancelAll',
    'GET openOrders',
    'GET allOrders',
    'GET userTrades',
    'GET income',
    'GET balance',
    'GET account',
    'GET accountWithJoinMargin',
    'GET positionRisk',
    'POST leverage',
    'GET leverageBracket',
    'POST marginType',
    'GET positionSide/dual',
    'POST positionSide/dual',
    'GET commissionRate',
    'POST listenKey',
    'PUT listenKey',
    'DELETE listenKey',
  ]);

  function security(name: string, version: number): Security {
    if (PUBLIC.has(name)) return 'NONE';
    if (name === 'listenKey') return version === 3 ? 'SIGNED' : 'KEY';
    return 'SIGNED';
  }

  function weightOf(method: string, name: string, params: URLSearchParams): number {
    const hasSymbol = params.has('symbol');
    switch (name) {
      case 'klines':
      case 'markPriceKlines':
        return klineWeight(Number(params.get('limit') ?? 500));
      case 'depth':
        return depthWeight(Number(params.get('limit') ?? 500));
      case 'ticker/24hr':
        return hasSymbol ? 1 : 40;
      case 'ticker/price':
      case 'ticker/bookTicker':
        return hasSymbol ? 1 : 2;
      case 'openOrders':
        return hasSymbol ? 1 : 40;
      case 'allOrders':
      case 'balance':
      case 'account':
      case 'accountWithJoinMargin':
      case 'positionRisk':
      case 'userTrades':
        return 5;
      case 'commissionRate':
      case 'aggTrades':
        return 20;
      case 'countdownCancelAll':
        return 10;
      case 'income':
        return 30;
      case 'batchOrders':
        return method === 'POST' ? 5 : 1;
      default:
        return method === 'GET' && name === 'positionSide/dual' ? 30 : 1;
    }
  }

  function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    if (res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const now = clock.now();
    const url = req.url ?? '/';
    const qIdx = url.indexOf('?');
    const path = qIdx < 0 ? url : url.slice(0, qIdx);
    const rawQuery = qIdx < 0 ? '' : url.slice(qIdx + 1);
    const method = req.method ?? 'GET';
    const ip = req.socket.remoteAddress ?? '?';
    const headers: Record<string, string> = {};

    // spot exchangeInfo (ccxt loads it next to the futures one)
    if (path === '/api/v3/exchangeInfo' || path === '/api/v1/exchangeInfo') {
      writeJson(
        res,
        200,
        { timezone: 'UTC', serverTime: now, rateLimits: [], exchangeFilters: [], assets: [], symbols: [] },
        {},
      );
      return;
    }
    const m = /^\/fapi\/v([1-4])\/(.+)$/.exec(path);
    if (!m) {
      writeJson(res, 404, { code: -1000, msg: `Path ${method} ${path} is invalid.` }, {});
      return;
    }
    const version = Number(m[1]);
    const name = m[2]!.replace(/\/$/, '');
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(rawBody);
      for (const [k, v] of new URLSearchParams(rawQuery)) params.set(k, v);
    } catch {
      writeJson(res, 400, { code: -1100, msg: 'Illegal characters found in a parameter.' }, {});
      return;
    }

    // request weight per IP per minute
    const window = Math.floor(now / 60_000);
    let w = weights.get(ip);
    if (!w || w.window !== window) {
      w = { window, used: 0, n429: 0, bannedUntil: w?.bannedUntil ?? 0 };
      weights.set(ip, w);
    }
    const retryS = (until: number): string => String(Math.max(1, Math.ceil((until - now) / 1000)));
    if (w.bannedUntil > now) {
      writeJson(
        res,
        418,
        {
          code: -1003,
          msg: `Way too many requests; IP banned until ${w.bannedUntil}. Please use the websocket for live updates to avoid bans.`,
        },
        { 'Retry-After': retryS(w.bannedUntil) },
      );
      return;
    }
    w.used += weightOf(method, name, params);
    headers['X-MBX-USED-WEIGHT-1M'] = String(w.used);
    if (w.used > weightLimit) {
      w.n429++;
      const windowEnd = (window + 1) * 60_000;
      if (w.n429 > 3) {
        w.bannedUntil = now + 120_000;
        writeJson(
          res,
          418,
          { code: -1003, msg: `Way too many requests; IP banned until ${w.bannedUntil}.` },
          {
            ...headers,
            'Retry-After': retryS(w.bannedUntil),
          },
        );
        return;
      }
      writeJson(
        res,
        429,
        { code: -1003, msg: `Too many requests; current limit is ${weightLimit} requests per minute.` },
        {
          ...headers,
          'Retry-After': retryS(windowEnd),
        },
      );
      return;
    }

    // injected faults on the request path
    for (const f of faults.poll()) dropSockets(f.kind);
    const spike = faults.take(path, ['latency-spike']);
    if (spike) {
      const ms = spike.opts.delayMs ?? 200 + Math.floor(faults.random() * 4800);
      await new Promise<void>((r) => later(r, ms));
    }
    const hard = faults.take(path, ['rate-limit-429', 'ban-418']);
    if (hard) {
      const ra = String(hard.opts.retryAfterS ?? (hard.kind === 'ban-418' ? 2 : 1));
      if (hard.kind === 'rate-limit-429')
        writeJson(
          res,
          429,
          { code: -1003, msg: `Too many requests; current limit is ${weightLimit} requests per minute.` },
          {
            ...headers,
            'Retry-After': ra,
          },
        );
      else
        writeJson(
          res,
          418,
          { code: -1003, msg: 'Way too many requests; IP banned.' },
          { ...headers, 'Retry-After': ra },
        );
      return;
    }

    try {
      if (!ROUTES.has(`${method} ${name}`) || !(ROUTE_VERSIONS[name] ?? [1, 3]).includes(version))
        throw new ApiError(404, -1000, `Path ${method} ${path} is invalid.`);
      const sec = security(name, version);
      let account = '';
      if (sec !== 'NONE') {
        const apiKey = req.headers['x-mbx-apikey'];
        const key = Array.isArray(apiKey) ? apiKey[0] : apiKey;
        if (version === 3) {
          const r = await v3.signed(rawQuery, rawBody, now);
          if (!r.ok) throw new ApiError(r.status, r.code, r.msg);
          account = r.account;
          params = r.signed;
        } else if (sec === 'KEY') {
          const r = v1.keyOnly(key);
          if (!r.ok) throw new ApiError(r.status, r.code, r.msg);
          account = r.account;
        } else {
          const r = v1.signed(key, rawQuery, rawBody, params, now);
          if (!r.ok) throw new ApiError(r.status, r.code, r.msg);
          account = r.account;
          if (faults.take(path, ['timestamp-1021']))
            throw bad(-1021, 'Timestamp for this request is outside of the recvWindow.');
        }
      }
      const ctx: Ctx = { method, name, version, params, account, now };
      const isNewOrder = method === 'POST' && name === 'order';
      const newOrders = isNewOrder ? 1 : method === 'POST' && name === 'batchOrders' ? batchSize(params) : 0;
      if (newOrders > 0) countOrders(account, newOrders, now, headers);
      const unknown = faults.take(path, ['unknown-503']);
      if (unknown) {
        // the exchange timed out: the order may or may not exist
        const place = isNewOrder && (unknown.opts.place ?? faults.random() < 0.5);
        if (place) {
          try {
            newOrder(ctx);
          } catch {
            // a rejected order simply does not exist
          }
        }
        throw new ApiError(
          503,
          -1007,
          'Timeout waiting for response from backend server. Send status unknown; execution status unknown.',
        );
      }
      let reply: Reply;
      if (isNewOrder) {
        const fill = faults.take(path, ['delayed-fill', 'partial-fill']);
        const type = params.get('type');
        if (fill && type !== 'MARKET') {
          // fits only MARKET orders: put it back unused
          faults.putBack(fill);
          reply = newOrder(ctx).reply;
        } else if (fill) {
          reply = newOrder(ctx, {
            kind: fill.kind,
            delayMs: fill.opts.delayMs ?? 200 + Math.floor(faults.random() * 1800),
            ...(fill.opts.fraction !== undefined ? { fraction: fill.opts.fraction } : {}),
          }).reply;
        } else reply = newOrder(ctx).reply;
      } else reply = route(ctx);
      writeJson(res, reply.status ?? 200, reply.body, headers);
    } catch (e) {
      if (e instanceof ApiError) writeJson(res, e.status, { code: e.code, msg: e.message }, headers);
      else
        writeJson(res, 500, { code: -1000, msg: 'An unknown error occurred while processing the request.' }, headers);
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) {
        writeJson(res, 413, { code: -1000, msg: 'Request body too large.' }, {});
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() =>
        writeJson(res, 500, { code: -1000, msg: 'An unknown error occurred while processing the request.' }, {}),
      );
    });
    req.on('error', () => undefined);
  });
  server.keepAliveTimeout = 65_000;

  // ---------------- WebSocket ----------------
  const wss = new WebSocketServer({ noServer: true });

  function dropSockets(kind: FaultKind): void {
    if (kind === 'drop-market-ws') for (const s of marketSockets) s.ws.terminate();
    if (kind === 'drop-user-ws') for (const uk of listenKeys.values()) for (const ws of uk.sockets) ws.terminate();
  }

  function validStream(s: string): boolean {
    const kl = /@kline_(\w+)$/.exec(s);
    if (kl) {
      const ms = klineIntervalMs(kl[1]!);
      if (ms === undefined || ms % intervalMs !== 0) return false;
    }
    return /^([a-z0-9]+@(kline_\w+|markPrice(@1s)?|bookTicker|aggTrade|depth(5|10|20)(@100ms|@250ms|@500ms)?|ticker|miniTicker)|!markPrice@arr(@1s)?|!bookTicker|!ticker@arr|!miniTicker@arr)$/.test(
      s,
    );
  }

  const maxConnection = opts.maxConnectionMs ?? 24 * 3_600_000;
  function limitLifetime(ws: WebSocket): void {
    later(() => {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'connection lifetime reached');
    }, maxConnection);
  }

  function attachMarket(ws: WebSocket, combined: boolean, streams: string[]): void {
    limitLifetime(ws);
    const ms: MarketSocket = {
      ws,
      combined,
      streams: new Set(streams.filter(validStream).slice(0, 200)),
      lastPong: clock.now(),
      msgWindow: 0,
      msgCount: 0,
    };
    marketSockets.add(ms);
    pongs.set(ws, clock.now());
    ws.on('pong', () => pongs.set(ws, clock.now()));
    ws.on('close', () => {
      marketSockets.delete(ms);
      pongs.delete(ws);
    });
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const sec = Math.floor(clock.now() / 1000);
      if (sec !== ms.msgWindow) {
        ms.msgWindow = sec;
        ms.msgCount = 0;
      }
      if (++ms.msgCount > 10) {
        ws.close(1008, 'too many messages');
        return;
      }
      let msg: { method?: unknown; params?: unknown; id?: unknown };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        send(ws, JSON.stringify({ code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }));
        return;
      }
      const id = msg.id ?? null;
      const list = Array.isArray(msg.params) ? msg.params.filter((x): x is string => typeof x === 'string') : [];
      switch (msg.method) {
        case 'SUBSCRIBE':
          if (list.some((x) => !validStream(x))) {
            send(ws, JSON.stringify({ code: 2, msg: `Invalid request: unknown stream`, id }));
            return;
          }
          for (const x of list) if (ms.streams.size < 200) ms.streams.add(x);
          send(ws, JSON.stringify({ result: null, id }));
          return;
        case 'UNSUBSCRIBE':
          for (const x of list) ms.streams.delete(x);
          send(ws, JSON.stringify({ result: null, id }));
          return;
        case 'LIST_SUBSCRIPTIONS':
          send(ws, JSON.stringify({ result: [...ms.streams], id }));
          return;
        case 'SET_PROPERTY':
          if (list[0] === 'combined') ms.combined = (msg.params as unknown[])[1] === true;
          send(ws, JSON.stringify({ result: null, id }));
          return;
        case 'GET_PROPERTY':
          send(ws, JSON.stringify({ result: ms.combined, id }));
          return;
        default:
          send(ws, JSON.stringify({ code: 2, msg: 'Invalid request: unknown method', id }));
      }
    });
  }

  function attachUser(ws: WebSocket, uk: UserKey): void {
    limitLifetime(ws);
    uk.sockets.add(ws);
    pongs.set(ws, clock.now());
    ws.on('pong', () => pongs.set(ws, clock.now()));
    ws.on('close', () => {
      uk.sockets.delete(ws);
      pongs.delete(ws);
    });
    ws.on('error', () => undefined);
    ws.on('message', () => undefined);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const reject = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => undefined);
    if (path === '/stream' || path === '/stream/') {
      const streams = (url.searchParams.get('streams') ?? '').split('/').filter((x) => x !== '');
      wss.handleUpgrade(req, socket, head, (ws) => attachMarket(ws, true, streams));
      return;
    }
    if (path === '/ws' || path === '/ws/') {
      wss.handleUpgrade(req, socket, head, (ws) => attachMarket(ws, false, []));
      return;
    }
    const m = /^\/ws\/(.+)$/.exec(path);
    if (m) {
      const tail = decodeURIComponent(m[1]!);
      const uk = listenKeys.get(tail);
      if (uk) {
        if (uk.expiresAt <= clock.now()) {
          expireListenKey(uk);
          reject(400, 'Bad Request');
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => attachUser(ws, uk));
        return;
      }
      const streams = tail.split('/').filter(validStream);
      if (streams.length > 0) {
        wss.handleUpgrade(req, socket, head, (ws) => attachMarket(ws, false, streams));
        return;
      }
    }
    reject(404, 'Not Found');
  });

  // ---------------- housekeeping loop (pings, listenKey expiry, random socket faults) ----------------
  const pingEvery = opts.pingIntervalMs ?? 5 * 60_000;
  const pongTimeout = opts.pongTimeoutMs ?? 15 * 60_000;
  let lastPing = clock.now();
  function housekeeping(): void {
    const now = clock.now();
    if (now - lastPing >= pingEvery) {
      lastPing = now;
      for (const [ws, last] of pongs) {
        if (now - last > pongTimeout) ws.terminate();
        else if (ws.readyState === ws.OPEN) ws.ping();
      }
    }
    for (const uk of [...listenKeys.values()]) if (uk.expiresAt <= now) expireListenKey(uk);
    for (const f of faults.poll()) dropSockets(f.kind);
    later(housekeeping, Math.max(10, Math.min(pingEvery, 250)));
  }
  later(housekeeping, Math.max(10, Math.min(pingEvery, 250)));

  function replayLoop(): void {
    if (replay.done()) return;
    advance(1);
    later(replayLoop, opts.replayMs);
  }
  if (opts.replayMs > 0) later(replayLoop, opts.replayMs);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;

  const defaultAccount = (): string => [...engine.accounts.keys()][0] ?? '';

  return {
    restUrl: `http://${host}:${addr.port}`,
    wsUrl: `ws://${host}:${addr.port}`,
    state(account = defaultAccount()) {
      const a = accountOf(engine, account);
      let userSockets = 0;
      for (const uk of listenKeys.values()) userSockets += uk.sockets.size;
      return {
        cursorTime: replay.cursorTime,
        balance: a.balance,
        availableBalance: availableBalance(engine, a),
        positions: [...a.positions.values()].map((p) => ({ ...p })),
        openOrders: openOrders(engine, account).map((o) => ({ ...o })),
        orders: [...a.orders.values()].map((o) => ({ ...o })),
        fills: a.fills.map((f) => ({ ...f })),
        fundingPaid: a.fundingPaid,
        faults: { ...faults.counters },
        accounts: [...engine.accounts.keys()],
        marketSockets: marketSockets.size,
        userSockets,
      };
    },
    injectFault(kind, o) {
      faults.inject(kind, o);
      if (kind === 'drop-market-ws' || kind === 'drop-user-ws') {
        for (const f of faults.poll()) dropSockets(f.kind);
      }
    },
    setFaults(plan) {
      faults.setPlan(plan);
    },
    advance,
    async close() {
      closed = true;
      const clear = clock.clearTimeout;
      if (clear) for (const h of timers) clear(h);
      timers.clear();
      for (const s of marketSockets) s.ws.terminate();
      for (const uk of listenKeys.values()) for (const ws of uk.sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
