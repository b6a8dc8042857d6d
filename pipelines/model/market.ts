/** A closed OHLCV candle. Times are epoch milliseconds (UTC). */
export interface Bar {
  readonly kind: 'bar';
  readonly symbol: string;
  /** candle open time */
  readonly openTime: number;
  /** end of the candle (open + interval): the moment the bar is known, and the event time */
  readonly time: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** volume in the base asset; zero is a real bar (maintenance window), not missing data */
  readonly volume: number;
}

export function makeBar(
  symbol: string,
  openTime: number,
  intervalMs: number,
  open: number,
  high: number,
  low: number,
  close: number,
  volume: number,
): Bar {
  return { kind: 'bar', symbol, openTime, time: openTime + intervalMs, open, high, low, close, volume };
}

/** Bars of one symbol in columns: what loaders produce and what fast paths read. */
export interface BarColumns {
  readonly symbol: string;
  readonly intervalMs: number;
  readonly openTime: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  readonly length: number;
}

const INTERVAL_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** '5m' → 300000. Throws on anything else so a typo never becomes a NaN interval. */
export function intervalToMs(interval: string): number {
  const m = /^(\d+)([smhdw])$/.exec(interval);
  if (!m) throw new Error(`interval "${interval}" is not of the form <number><s|m|h|d|w>, e.g. 5m`);
  return Number(m[1]) * INTERVAL_UNITS[m[2] as string]!;
}

/** Funding rate for a symbol at a funding time (Binance/Aster: every 8 h at 00:00, 08:00, 16:00 UTC). */
export interface FundingRate {
  readonly symbol: string;
  readonly fundingTime: number;
  readonly rate: number;
}
