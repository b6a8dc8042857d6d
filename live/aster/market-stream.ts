import { Subject } from 'rxjs';
import WebSocket from 'ws';
import { z } from 'zod';
import { intervalToMs, makeBar, type Bar } from '../../pipelines/model/index.ts';
import { orderFlowOf, type Kline } from './schemas.ts';
import type { Timers } from '../../pipelines/ports.ts';
import { backoffDelay } from '../../pipelines/backoff.ts';
import { backgroundTimers } from '../../runtime/timers.ts';

const num = z.union([z.string(), z.number()]).transform((v) => Number(v));

const KlineEventSchema = z.looseObject({
  e: z.literal('kline'),
  E: num,
  s: z.string(),
  k: z.looseObject({
    t: num,
    T: num,
    s: z.string(),
    i: z.string(),
    o: num,
    c: num,
    h: num,
    l: num,
    v: num,
    x: z.boolean(),
  }),
});
const MarkPriceSchema = z.looseObject({
  e: z.literal('markPriceUpdate'),
  E: num,
  s: z.string(),
  p: num,
  i: num.optional(),
  r: num.optional(),
  T: num.optional(),
});
const BookTickerSchema = z.looseObject({
  e: z.literal('bookTicker'),
  E: num,
  s: z.string(),
  b: num,
  B: num,
  a: num,
  A: num,
});
const AggTradeSchema = z.looseObject({
  e: z.literal('aggTrade'),
  E: num,
  s: z.string(),
  p: num,
  q: num,
  T: num,
  m: z.boolean(),
});

export interface MarkPriceTick {
  readonly kind: 'mark-price';
  readonly time: number;
  readonly symbol: string;
  readonly markPrice: number;
  readonly indexPrice: number;
  readonly fundingRate: number;
  readonly nextFundingTime: number;
}
export interface BookTick {
  readonly kind: 'book-ticker';
  readonly time: number;
  readonly symbol: string;
  readonly bidPrice: number;
  readonly bidQty: number;
  readonly askPrice: number;
  readonly askQty: number;
}
export interface AggTradeTick {
  readonly kind: 'agg-trade';
  readonly time: number;
  readonly symbol: string;
  readonly price: number;
  readonly quantity: number;
  readonly buyerIsMaker: boolean;
}
export type MarketTick = MarkPriceTick | BookTick | AggTradeTick;

export type StreamStatus =
  | { readonly kind: 'connected'; readonly url: string; readonly rollover: boolean }
  | { readonly kind: 'disconnected'; readonly code: number; readonly retryInMs: number }
  | { readonly kind: 'silent'; readonly forMs: number }
  | {
      readonly kind: 'gap-filled';
      readonly symbol: string;
      readonly from: number;
      readonly to: number;
      readonly bars: number;
    }
  | { readonly kind: 'error'; readonly detail: string; readonly raw?: string };

export interface MarketStreamOptions {
  /** e.g. wss://fstream.asterdex.com (combined streams are at /stream?streams=…) */
  readonly wsUrl: string;
  readonly symbols: readonly string[];
  /** kline interval, e.g. 5m */
  readonly interval: string;
  readonly markPrice?: boolean;
  readonly bookTicker?: boolean;
  readonly aggTrade?: boolean;
  /** REST klines for gap filling (AsterRestClient.klines) */
  readonly klines?: (q: {
    symbol: string;
    interval: string;
    startTime: number;
    endTime: number;
    limit: number;
  }) => Promise<Kline[]>;
  readonly scheduler?: Timers;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** open a fresh connection before the exchange's 24 h limit; default 23 h */
  readonly rolloverMs?: number;
  /** most REST pages fetched for one gap (1500 bars each); default 20 */
  readonly maxGapPages?: number;
  /** the exchange's clock (AsterRestClient.serverNow), for the gap fill on (re)connect; default Date.now */
  readonly now?: () => number;
  /**
   * liveness: no frame at all (data, ping or pong) for this long → reconnect. Default 10 min,
   * twice the exchange's 5-minute ping period.
   */
  readonly silenceMs?: number;
}

/**
 * Combined Aster market streams over one WebSocket: closed klines as our Bar (in order per
 * symbol, without duplicates, with gaps filled from REST klines), plus mark price, book ticker
 * and aggregated trades. Reconnects with exponential back-off, answers pings, resubscribes
 * everything on a new connection, and rolls over to a fresh connection before 24 h.
 */
export class AsterMarketStream {
  readonly bars = new Subject<Bar>();
  readonly ticks = new Subject<MarketTick>();
  readonly status = new Subject<StreamStatus>();

  private readonly intervalMs: number;
  private readonly scheduler: Timers;
  private readonly streams = new Set<string>();
  private readonly lastOpen = new Map<string, number>();
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = true;
  private reconnectTimer: unknown = null;
  private rolloverTimer: unknown = null;
  private silenceTimer: unknown = null;
  private readonly now: () => number;
  private queue: Promise<void> = Promise.resolve();
  private requestId = 0;

  constructor(private readonly opts: MarketStreamOptions) {
    this.intervalMs = intervalToMs(opts.interval);
    this.scheduler = opts.scheduler ?? backgroundTimers;
    this.now = opts.now ?? Date.now;
    for (const s of opts.symbols) {
      const l = s.toLowerCase();
      this.streams.add(`${l}@kline_${opts.interval}`);
      if (opts.markPrice) this.streams.add(`${l}@markPrice`);
      if (opts.bookTicker) this.streams.add(`${l}@bookTicker`);
      if (opts.aggTrade) this.streams.add(`${l}@aggTrade`);
    }
  }

  /** the open time of the last closed bar already known for a symbol (e.g. from a REST warm-up) */
  seed(symbol: string, lastOpenTime: number): void {
    const prev = this.lastOpen.get(symbol);
    if (prev === undefined || lastOpenTime > prev) this.lastOpen.set(symbol, lastOpenTime);
  }

  get subscriptions(): readonly string[] {
    return [...this.streams];
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect(false);
  }

  /** adds streams now (SUBSCRIBE) and to every future connection */
  subscribe(streams: readonly string[]): void {
    const fresh = streams.filter((s) => !this.streams.has(s));
    for (const s of fresh) this.streams.add(s);
    if (fresh.length > 0 && this.ws?.readyState === WebSocket.OPEN)
      this.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: fresh, id: ++this.requestId }));
  }

  /** waits for queued bar handling (gap fills) to finish */
  async drain(): Promise<void> {
    await this.queue;
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.scheduler.clearTimeout(this.reconnectTimer);
    if (this.rolloverTimer !== null) this.scheduler.clearTimeout(this.rolloverTimer);
    if (this.silenceTimer !== null) this.scheduler.clearTimeout(this.silenceTimer);
    this.reconnectTimer = this.rolloverTimer = this.silenceTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.terminate();
  }

  private url(): string {
    return `${this.opts.wsUrl.replace(/\/+$/, '')}/stream?streams=${[...this.streams].join('/')}`;
  }

  private connect(rollover: boolean): void {
    const url = this.url();
    const included = new Set(this.streams);
    const ws = new WebSocket(url, { autoPong: false });
    if (!rollover) this.ws = ws;
    ws.on('ping', (data: Buffer) => {
      if (ws === this.ws) this.alive();
      ws.pong(data);
    });
    ws.on('pong', () => {
      if (ws === this.ws) this.alive();
    });
    ws.on('open', () => {
      if (this.stopped) return ws.terminate();
      if (rollover) {
        const old = this.ws;
        this.ws = ws;
        old?.close(1000, 'rollover');
      }
      this.attempt = 0;
      // streams added while this socket was connecting are not in its URL
      const missing = [...this.streams].filter((x) => !included.has(x));
      if (missing.length > 0) ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: missing, id: ++this.requestId }));
      this.alive();
      this.status.next({ kind: 'connected', url, rollover });
      // bars that closed while no socket was open — since the last one seen, or since the warm-up
      // read for the first connection — from REST now, not when the next live bar shows the gap
      if (!rollover) this.fillToNow();
      if (this.rolloverTimer !== null) this.scheduler.clearTimeout(this.rolloverTimer);
      this.rolloverTimer = this.scheduler.setTimeout(
        () => {
          this.rolloverTimer = null;
          if (!this.stopped) this.connect(true);
        },
        this.opts.rolloverMs ?? 23 * 3_600_000,
      );
    });
    ws.on('message', (data: Buffer) => {
      if (ws !== this.ws) return;
      this.alive();
      this.onMessage(data.toString('utf8'));
    });
    ws.on('error', (e: Error) => this.status.next({ kind: 'error', detail: `websocket: ${e.message}` }));
    ws.on('close', (code: number) => {
      if (ws !== this.ws || this.stopped) return;
      this.ws = null;
      this.reconnectLater(code);
    });
  }

  private reconnectLater(code: number): void {
    if (this.silenceTimer !== null) this.scheduler.clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
    const delay = backoffDelay(this.attempt++, this.opts.backoffInitialMs ?? 500, this.opts.backoffMaxMs ?? 30_000);
    this.status.next({ kind: 'disconnected', code, retryInMs: delay });
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.connect(false);
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
      this.reconnectLater(4000); // application close code: silent socket
    }, bound);
  }

  /** every symbol with a known last bar: fill up to the bar forming now (queued with live bars) */
  private fillToNow(): void {
    if (this.opts.klines === undefined) return;
    const forming = Math.floor(this.now() / this.intervalMs) * this.intervalMs;
    for (const symbol of this.lastOpen.keys()) {
      this.queue = this.queue.then(async () => {
        const last = this.lastOpen.get(symbol);
        if (this.stopped || last === undefined || forming <= last + this.intervalMs) return;
        await this.fillGap(symbol, last, forming);
      });
    }
  }

  private onMessage(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.status.next({ kind: 'error', detail: 'frame is not JSON', raw: text.slice(0, 500) });
    }
    if (typeof msg !== 'object' || msg === null) return;
    if ('id' in msg && ('result' in msg || 'code' in msg)) {
      if ('code' in msg) this.status.next({ kind: 'error', detail: 'subscription refused', raw: text.slice(0, 500) });
      return;
    }
    const data = 'data' in msg ? (msg as { data: unknown }).data : msg;
    const e = (data as { e?: unknown }).e;
    const bad = (detail: string) => this.status.next({ kind: 'error', detail, raw: text.slice(0, 500) });
    if (e === 'kline') {
      const k = KlineEventSchema.safeParse(data);
      if (!k.success) return bad('malformed kline');
      if (!k.data.k.x) return;
      const kk = k.data.k;
      const flow = orderFlowOf(kk.q, kk.n, kk.V, kk.Q);
      const bar = makeBar(kk.s.toUpperCase(), kk.t, this.intervalMs, kk.o, kk.h, kk.l, kk.c, kk.v, flow);
      this.queue = this.queue.then(() => this.onClosedBar(bar));
    } else if (e === 'markPriceUpdate') {
      const m = MarkPriceSchema.safeParse(data);
      if (!m.success) return bad('malformed markPriceUpdate');
      this.ticks.next({
        kind: 'mark-price',
        time: m.data.E,
        symbol: m.data.s,
        markPrice: m.data.p,
        indexPrice: m.data.i ?? Number.NaN,
        fundingRate: m.data.r ?? 0,
        nextFundingTime: m.data.T ?? 0,
      });
    } else if (e === 'bookTicker') {
      const b = BookTickerSchema.safeParse(data);
      if (!b.success) return bad('malformed bookTicker');
      const d = b.data;
      this.ticks.next({
        kind: 'book-ticker',
        time: d.E,
        symbol: d.s,
        bidPrice: d.b,
        bidQty: d.B,
        askPrice: d.a,
        askQty: d.A,
      });
    } else if (e === 'aggTrade') {
      const a = AggTradeSchema.safeParse(data);
      if (!a.success) return bad('malformed aggTrade');
      const d = a.data;
      this.ticks.next({ kind: 'agg-trade', time: d.T, symbol: d.s, price: d.p, quantity: d.q, buyerIsMaker: d.m });
    } else {
      bad(`unexpected event ${String(e)}`);
    }
  }

  private async onClosedBar(bar: Bar): Promise<void> {
    const last = this.lastOpen.get(bar.symbol);
    if (last !== undefined && bar.openTime <= last) return; // duplicate (reconnect, rollover overlap)
    if (last !== undefined && bar.openTime > last + this.intervalMs) await this.fillGap(bar.symbol, last, bar.openTime);
    const after = this.lastOpen.get(bar.symbol);
    if (after !== undefined && bar.openTime <= after) return;
    this.lastOpen.set(bar.symbol, bar.openTime);
    this.bars.next(bar);
  }

  /**
   * A failed gap fill would leave a permanent hole (the next bar is emitted after it), so one
   * transient REST failure (503, 429, a timeout) is retried with back-off, a bounded number of times.
   */
  private async retried<T>(fetch: () => Promise<T>, attempts = 20): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch();
      } catch (error) {
        if (attempt + 1 >= attempts || this.stopped) throw error;
        const ms = backoffDelay(attempt, 250, 2000);
        await new Promise<void>((resolve) => this.scheduler.setTimeout(resolve, ms));
      }
    }
  }

  private async fillGap(symbol: string, lastOpen: number, nextOpen: number): Promise<void> {
    const fetchKlines = this.opts.klines;
    if (fetchKlines === undefined) {
      this.status.next({ kind: 'error', detail: `gap in ${symbol} after ${lastOpen}: no REST to fill it` });
      return;
    }
    let from = lastOpen + this.intervalMs;
    let filled = 0;
    const maxPages = this.opts.maxGapPages ?? 20;
    try {
      for (let page = 0; page < maxPages && from < nextOpen; page++) {
        const query = { symbol, interval: this.opts.interval, startTime: from, endTime: nextOpen - 1, limit: 1500 };
        const rows = await this.retried(() => fetchKlines(query));
        let advanced = false;
        for (const r of rows) {
          if (r.openTime < from || r.openTime >= nextOpen) continue;
          const bar = makeBar(symbol, r.openTime, this.intervalMs, r.open, r.high, r.low, r.close, r.volume, r.flow);
          this.lastOpen.set(symbol, bar.openTime);
          this.bars.next(bar);
          filled++;
          from = r.openTime + this.intervalMs;
          advanced = true;
        }
        if (!advanced) break;
      }
      this.status.next({ kind: 'gap-filled', symbol, from: lastOpen + this.intervalMs, to: nextOpen, bars: filled });
    } catch (e) {
      this.status.next({
        kind: 'error',
        detail: `gap fill for ${symbol} failed: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
}
