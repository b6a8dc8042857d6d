/**
 * Incremental per-symbol features, O(1) per bar. Nothing is reported until every feature is
 * warm: an indicator that answers early answers wrong.
 */

export interface FeatureParams {
  atrPeriod: number;
  lookbackBars: number;
  volatilityWindow: number;
  /** bars in 24 h at the bar interval */
  barsPerDay: number;
  /** bars in a 365-day year, to annualise volatility (crypto trades every day) */
  barsPerYear: number;
}

export interface FeatureValues {
  atr: number;
  lookbackReturn: number;
  volatility: number;
  change24h: number;
}

export interface FeatureStateData {
  values: [number, number, number, number];
  closes: number[];
  returns: number[];
  count: number;
  prevClose: number;
  sums: [number, number, number, number, number];
}

export class FeatureState implements FeatureValues {
  /** the latest values, valid after `update` returned true (read in place: no object per bar) */
  atr = 0;
  lookbackReturn = 0;
  volatility = 0;
  change24h = 0;
  private readonly closes: Float64Array;
  private readonly returns: Float64Array;
  private count = 0;
  private prevClose = Number.NaN;
  private smoothedAtr = 0;
  private trSum = 0;
  private retSum = 0;
  private retSumSq = 0;
  private retCount = 0;
  /** bars needed before the first value */
  readonly warmUp: number;

  constructor(private readonly p: FeatureParams) {
    this.closes = new Float64Array(Math.max(p.lookbackBars, p.barsPerDay) + 1);
    this.returns = new Float64Array(p.volatilityWindow);
    // ATR needs atrPeriod true ranges, each needing a previous close; returns need one extra bar
    this.warmUp = Math.max(p.atrPeriod + 1, p.lookbackBars + 1, p.barsPerDay + 1, p.volatilityWindow + 1);
  }

  /** the indicator state as JSON data */
  snapshot(): FeatureStateData {
    return {
      values: [this.atr, this.lookbackReturn, this.volatility, this.change24h],
      closes: Array.from(this.closes),
      returns: Array.from(this.returns),
      count: this.count,
      prevClose: this.prevClose,
      sums: [this.smoothedAtr, this.trSum, this.retSum, this.retSumSq, this.retCount],
    };
  }

  restore(d: FeatureStateData): void {
    [this.atr, this.lookbackReturn, this.volatility, this.change24h] = d.values;
    this.closes.set(d.closes);
    this.returns.set(d.returns);
    this.count = d.count;
    this.prevClose = d.prevClose;
    [this.smoothedAtr, this.trSum, this.retSum, this.retSumSq, this.retCount] = d.sums;
  }

  /** Adds a closed bar; true once warm (then the fields hold this bar's features). */
  update(high: number, low: number, close: number): boolean {
    const p = this.p;
    const n = this.count;
    const prev = this.prevClose;
    if (n > 0) {
      // Wilder true range and smoothing: seed with the mean of the first atrPeriod ranges
      const tr = Math.max(high - low, Math.abs(high - prev), Math.abs(low - prev));
      if (n <= p.atrPeriod) {
        this.trSum += tr;
        if (n === p.atrPeriod) this.smoothedAtr = this.trSum / p.atrPeriod;
      } else {
        this.smoothedAtr = (this.smoothedAtr * (p.atrPeriod - 1) + tr) / p.atrPeriod;
      }
      const r = Math.log(close / prev);
      const w = p.volatilityWindow;
      const slot = this.retCount % w;
      if (this.retCount >= w) {
        const old = this.returns[slot]!;
        this.retSum -= old;
        this.retSumSq -= old * old;
      }
      this.returns[slot] = r;
      this.retSum += r;
      this.retSumSq += r * r;
      this.retCount++;
    }
    const len = this.closes.length;
    this.closes[n % len] = close;
    this.prevClose = close;
    this.count = n + 1;
    if (this.count < this.warmUp) return false;

    const lookbackClose = this.closes[(n - p.lookbackBars) % len]!;
    const dayClose = this.closes[(n - p.barsPerDay) % len]!;
    const w = p.volatilityWindow;
    const mean = this.retSum / w;
    // sample variance; clamp the tiny negatives that cancellation can leave
    const variance = Math.max(0, (this.retSumSq - w * mean * mean) / (w - 1));
    this.atr = this.smoothedAtr;
    this.lookbackReturn = close / lookbackClose - 1;
    this.volatility = Math.sqrt(variance * p.barsPerYear);
    this.change24h = close / dayClose - 1;
    return true;
  }
}

const DAY_MS = 86_400_000;

/**
 * The longest run of missing bars a series may have before it counts as a hole (MAX_GAP_BARS;
 * 0 = one day of bars at the interval, at least 1). Across a hole indicators start again.
 */
export function gapLimitBars(setting: number, intervalMs: number): number {
  return setting > 0 ? setting : Math.max(1, Math.round(DAY_MS / intervalMs));
}
