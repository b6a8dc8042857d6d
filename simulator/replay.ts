import type { BarColumns, OrderFlow } from '../pipelines/model/index.ts';

/**
 * The replayed market: real bars released one interval at a time. `cursorTime` is the market clock
 * (the close time of the last released bar); nothing after it is ever visible.
 */
export interface ReleasedBar {
  series: BarColumns;
  index: number;
}

export class Replay {
  readonly bySymbol = new Map<string, BarColumns>();
  /** index of the last released bar per symbol (-1: none yet) */
  private readonly released = new Map<string, number>();
  cursorTime: number;

  constructor(
    readonly series: readonly BarColumns[],
    readonly intervalMs: number,
    startIndex: number,
  ) {
    if (series.length === 0) throw new Error('the simulator needs at least one bar series');
    for (const s of series) {
      if (s.length === 0) throw new Error(`series ${s.symbol} has no bars`);
      this.bySymbol.set(s.symbol, s);
      this.released.set(s.symbol, -1);
    }
    const first = series[0]!;
    const i = Math.max(0, Math.min(startIndex, first.length - 1));
    this.cursorTime = first.openTime[i]! + intervalMs;
  }

  /** bars released at the current cursor that were not released before (used once at start) */
  releaseToCursor(): ReleasedBar[] {
    const out: ReleasedBar[] = [];
    for (const s of this.series) {
      let idx = this.released.get(s.symbol)!;
      while (idx + 1 < s.length && s.openTime[idx + 1]! + s.intervalMs <= this.cursorTime) {
        idx++;
        out.push({ series: s, index: idx });
      }
      this.released.set(s.symbol, idx);
    }
    return out;
  }

  /** Moves the market clock one interval; returns the bars that closed (empty at the end of data). */
  step(): ReleasedBar[] {
    if (this.done()) return [];
    this.cursorTime += this.intervalMs;
    return this.releaseToCursor();
  }

  done(): boolean {
    for (const s of this.series) if (this.released.get(s.symbol)! < s.length - 1) return false;
    return true;
  }

  /** index of the last released bar of a symbol, -1 if none */
  lastIndex(symbol: string): number {
    return this.released.get(symbol) ?? -1;
  }

  lastClose(symbol: string): number | undefined {
    const s = this.bySymbol.get(symbol);
    const i = this.lastIndex(symbol);
    return s && i >= 0 ? s.close[i] : undefined;
  }
}

const WEEK_MS = 604_800_000;
/** the epoch fell on a Thursday; exchange weeks open on Monday 00:00 UTC, four days later */
const MONDAY_OFFSET_MS = 4 * 86_400_000;

/** Open time of the kline bucket of `intervalMs` holding time `t` (weekly buckets open on Monday). */
export function bucketStart(t: number, intervalMs: number): number {
  const offset = intervalMs === WEEK_MS ? MONDAY_OFFSET_MS : 0;
  return Math.floor((t - offset) / intervalMs) * intervalMs + offset;
}

export interface Kline {
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** bars in the bucket */
  count: number;
  /** summed order flow of those bars, only when the data has it */
  flow?: { -readonly [K in keyof OrderFlow]: number };
}

/**
 * Klines of `intervalMs` (a multiple of the series interval) built only from released bars, with the
 * open range filter of the exchange (startTime/endTime on the open time), newest `limit`.
 */
export function klines(
  s: BarColumns,
  lastIndex: number,
  intervalMs: number,
  startTime: number | undefined,
  endTime: number | undefined,
  limit: number,
): Kline[] {
  const out: Kline[] = [];
  const ratio = Math.max(1, Math.round(intervalMs / s.intervalMs));
  // first bar worth reading: the requested start (binary search) or enough bars back for `limit` klines,
  // moved back to the first bar of its bucket so no kline is cut
  let from = 0;
  if (startTime !== undefined) {
    const t0 = bucketStart(startTime, intervalMs);
    let lo = 0;
    let hi = lastIndex + 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s.openTime[mid]! < t0) lo = mid + 1;
      else hi = mid;
    }
    from = lo;
  } else if (endTime === undefined) {
    from = Math.max(0, lastIndex - (limit + 1) * ratio);
  }
  if (from > 0) {
    const bucket = bucketStart(s.openTime[from]!, intervalMs);
    while (from > 0 && s.openTime[from - 1]! >= bucket) from--;
  }
  const fl = s.flow;
  for (let i = from; i <= lastIndex; i++) {
    const t = s.openTime[i]!;
    const bucket = bucketStart(t, intervalMs);
    const k = out[out.length - 1];
    if (k && k.openTime === bucket) {
      k.high = Math.max(k.high, s.high[i]!);
      k.low = Math.min(k.low, s.low[i]!);
      k.close = s.close[i]!;
      k.volume += s.volume[i]!;
      k.count++;
      if (k.flow !== undefined && fl !== undefined) {
        k.flow.quoteVolume += fl.quoteVolume[i]!;
        k.flow.trades += fl.trades[i]!;
        k.flow.takerBuyVolume += fl.takerBuyVolume[i]!;
        k.flow.takerBuyQuoteVolume += fl.takerBuyQuoteVolume[i]!;
      }
    } else {
      out.push({
        openTime: bucket,
        closeTime: bucket + intervalMs - 1,
        open: s.open[i]!,
        high: s.high[i]!,
        low: s.low[i]!,
        close: s.close[i]!,
        volume: s.volume[i]!,
        count: 1,
        ...(fl === undefined
          ? {}
          : {
              flow: {
                quoteVolume: fl.quoteVolume[i]!,
                trades: fl.trades[i]!,
                takerBuyVolume: fl.takerBuyVolume[i]!,
                takerBuyQuoteVolume: fl.takerBuyQuoteVolume[i]!,
              },
            }),
      });
    }
  }
  let sel = out;
  if (startTime !== undefined) sel = sel.filter((k) => k.openTime >= startTime);
  if (endTime !== undefined) sel = sel.filter((k) => k.openTime <= endTime);
  if (startTime !== undefined) return sel.slice(0, limit);
  return sel.slice(Math.max(0, sel.length - limit));
}

/**
 * Order-flow fields of a kline as the exchange serves them (quote volume, trade count, taker-buy
 * base and quote volume), from the data when it has them. Without them every one is null: the
 * simulator has no trades to count and no aggressor side, and a made-up number (0, or volume × close)
 * would read as a real one.
 */
export function klineFlow(
  f: OrderFlow | undefined,
  fmtQty: (q: number) => string,
): {
  quoteVolume: string | null;
  trades: number | null;
  takerBuyVolume: string | null;
  takerBuyQuoteVolume: string | null;
} {
  if (f === undefined) return { quoteVolume: null, trades: null, takerBuyVolume: null, takerBuyQuoteVolume: null };
  return {
    quoteVolume: quoteAmount(f.quoteVolume),
    trades: Math.round(f.trades),
    takerBuyVolume: fmtQty(f.takerBuyVolume),
    takerBuyQuoteVolume: quoteAmount(f.takerBuyQuoteVolume),
  };
}

/** quote amounts to 8 decimals without float noise (sums of file values) */
function quoteAmount(x: number): string {
  return String(Number(x.toFixed(8)));
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Exchange kline interval names (1m … 1w; 1M not supported by the simulator) → ms. */
export function klineIntervalMs(name: string): number | undefined {
  const m = /^(1|3|5|15|30|2|4|6|8|12)([mhdw])$/.exec(name);
  if (!m) return undefined;
  const ok = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w'];
  if (!ok.includes(name) && name !== '3d') return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

export function intervalName(ms: number): string {
  for (const [u, v] of [
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % v === 0) return `${ms / v}${u}`;
  return `${ms / 1000}s`;
}
