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
  /**
   * Order flow, present only when the source has it (Binance-native kline files, the exchange's
   * klines): absent means unknown, never zero. All four come together.
   */
  readonly quoteVolume?: number;
  readonly trades?: number;
  readonly takerBuyVolume?: number;
  readonly takerBuyQuoteVolume?: number;
}

/** The order-flow fields of a bar, when the data has them. */
export interface OrderFlow {
  readonly quoteVolume: number;
  readonly trades: number;
  readonly takerBuyVolume: number;
  readonly takerBuyQuoteVolume: number;
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
  flow?: OrderFlow,
): Bar {
  // without flow the bar keeps its old shape, so flow-less runs build exactly the bars they did
  if (flow === undefined)
    return { kind: 'bar', symbol, openTime, time: openTime + intervalMs, open, high, low, close, volume };
  const { quoteVolume, trades, takerBuyVolume, takerBuyQuoteVolume } = flow;
  return {
    kind: 'bar',
    symbol,
    openTime,
    time: openTime + intervalMs,
    open,
    high,
    low,
    close,
    volume,
    quoteVolume,
    trades,
    takerBuyVolume,
    takerBuyQuoteVolume,
  };
}

/** Order-flow columns of a series (Binance-native files): all four or none. */
export interface FlowColumns {
  readonly quoteVolume: Float64Array;
  readonly trades: Float64Array;
  readonly takerBuyVolume: Float64Array;
  readonly takerBuyQuoteVolume: Float64Array;
}

export const FLOW_KEYS = ['quoteVolume', 'trades', 'takerBuyVolume', 'takerBuyQuoteVolume'] as const;

/** The flow of row `i`, or undefined when the series has none. */
export function flowAt(flow: FlowColumns | undefined, i: number): OrderFlow | undefined {
  if (flow === undefined) return undefined;
  return {
    quoteVolume: flow.quoteVolume[i]!,
    trades: flow.trades[i]!,
    takerBuyVolume: flow.takerBuyVolume[i]!,
    takerBuyQuoteVolume: flow.takerBuyQuoteVolume[i]!,
  };
}

/**
 * Whether a bar's print reports the seller as the aggressor (isBuyerMaker): from the data's
 * taker-buy volume when it has one (more than half the volume sold into bids), else false, the
 * buyer, as before (the data has no side then).
 */
export function sellerAggressor(s: BarColumns, i: number): boolean {
  const buy = s.flow?.takerBuyVolume[i];
  return buy !== undefined && buy * 2 < s.volume[i]!;
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
  /** order flow, only when every bar of the source has it (absent: unknown, never zeros) */
  readonly flow?: FlowColumns;
  readonly length: number;
}

/** Rows [lo, hi) of a series as views (no copy), order flow included when the series has it. */
export function sliceRows(c: BarColumns, lo: number, hi: number): BarColumns {
  const flow = c.flow;
  return {
    symbol: c.symbol,
    intervalMs: c.intervalMs,
    openTime: c.openTime.subarray(lo, hi),
    open: c.open.subarray(lo, hi),
    high: c.high.subarray(lo, hi),
    low: c.low.subarray(lo, hi),
    close: c.close.subarray(lo, hi),
    volume: c.volume.subarray(lo, hi),
    ...(flow === undefined
      ? {}
      : {
          flow: {
            quoteVolume: flow.quoteVolume.subarray(lo, hi),
            trades: flow.trades.subarray(lo, hi),
            takerBuyVolume: flow.takerBuyVolume.subarray(lo, hi),
            takerBuyQuoteVolume: flow.takerBuyQuoteVolume.subarray(lo, hi),
          },
        }),
    length: Math.max(0, hi - lo),
  };
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
