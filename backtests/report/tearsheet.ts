import { mean, sampleStandardDeviation } from 'simple-statistics';
import { periodReturns, type ReturnsBasis } from './metrics.ts';
export { sideBreakdown, streaks, type SideStats } from './trade-stats.ts';

/**
 * The tearsheet views of a backtest beyond the headline metrics (what QuantStats shows):
 * drawdown periods, the return distribution, rolling Sharpe and volatility, long vs short, win
 * and loss streaks and a buy-and-hold curve. Pure functions of the equity curve, the closed
 * trades and the bars, so each can be recomputed by hand on a small series.
 */

type EquityRow = { time: number; equity: number };

export interface DrawdownPeriod {
  /** the peak the drawdown fell from */
  start: number;
  /** the lowest point */
  valley: number;
  /** the first time equity is back at the peak; null while still under water at the end */
  recovery: number | null;
  /** depth at the valley, in % (positive) */
  depthPct: number;
  /** start → recovery (or → the last row when not recovered) */
  lengthMs: number;
}

/** Every drawdown from a peak to its recovery, deepest first (the `top` deepest). */
export function drawdownPeriods(equity: readonly EquityRow[], top = 5): DrawdownPeriod[] {
  const periods: DrawdownPeriod[] = [];
  let peak = -Infinity;
  let peakTime = 0;
  let open: { valley: number; low: number } | null = null;
  for (const p of equity) {
    if (p.equity >= peak) {
      if (open) {
        periods.push(period(peak, peakTime, open, p.time, p.time));
        open = null;
      }
      peak = p.equity;
      peakTime = p.time;
    } else if (!open || p.equity < open.low) {
      open = { valley: p.time, low: p.equity };
    }
  }
  if (open) periods.push(period(peak, peakTime, open, null, equity.at(-1)!.time));
  return periods.sort((a, b) => b.depthPct - a.depthPct || a.start - b.start).slice(0, top);
}

function period(
  peak: number,
  start: number,
  open: { valley: number; low: number },
  recovery: number | null,
  end: number,
): DrawdownPeriod {
  return { start, valley: open.valley, recovery, depthPct: (1 - open.low / peak) * 100, lengthMs: end - start };
}

export interface HistogramBin {
  /** bin edges in % */
  fromPct: number;
  toPct: number;
  count: number;
}

/** Period returns (in %) counted into `bins` equal-width bins spanning their range. */
export function returnHistogram(returns: readonly number[], bins = 20): HistogramBin[] {
  if (returns.length === 0) return [];
  const pcts = returns.map((r) => r * 100);
  const lo = Math.min(...pcts);
  const hi = Math.max(...pcts);
  const n = lo === hi ? 1 : bins;
  const width = lo === hi ? 1 : (hi - lo) / n;
  const out: HistogramBin[] = Array.from({ length: n }, (_, i) => ({
    fromPct: lo + i * width,
    toPct: lo + (i + 1) * width,
    count: 0,
  }));
  for (const v of pcts) out[Math.min(n - 1, Math.floor((v - lo) / width))]!.count++;
  return out;
}

export interface RollingPoint {
  time: number;
  sharpe: number | null;
  /** annualised volatility of the returns in the window, in % */
  volatilityPct: number;
}

export interface RollingRatios {
  basis: ReturnsBasis;
  /** returns per window */
  window: number;
  points: RollingPoint[];
}

/**
 * Rolling annualised Sharpe and volatility over the report's period returns: 30 daily returns
 * (daily basis), or one day of bar returns (per-bar basis, shorter runs), at most a quarter of
 * the returns so a short run still draws a curve. Each point is stamped with the time its
 * window ends.
 */
export function rollingRatios(
  equity: readonly EquityRow[],
  barIntervalMs: number,
  basis?: ReturnsBasis,
): RollingRatios {
  const { returns, perYear, basis: chosen, times } = periodReturnsWithTimes(equity, barIntervalMs, basis);
  const wanted = chosen === 'daily' ? 30 : Math.round(86_400_000 / barIntervalMs);
  const window = Math.max(2, Math.min(wanted, Math.floor(returns.length / 4)));
  const points: RollingPoint[] = [];
  for (let end = window; end <= returns.length; end++) {
    const slice = returns.slice(end - window, end);
    const sd = sampleStandardDeviation(slice);
    points.push({
      time: times[end - 1]!,
      sharpe: sd > 0 ? (mean(slice) / sd) * Math.sqrt(perYear) : null,
      volatilityPct: sd * Math.sqrt(perYear) * 100,
    });
  }
  return { basis: chosen, window, points };
}

/** periodReturns with the time each return ends (the day's last row, or the bar's row). */
function periodReturnsWithTimes(equity: readonly EquityRow[], barIntervalMs: number, basis?: ReturnsBasis) {
  const r = periodReturns(equity, barIntervalMs, basis);
  if (r.basis === 'bar') return { ...r, times: equity.slice(1).map((p) => p.time) };
  const times: number[] = [];
  for (let i = 1; i < equity.length; i++) {
    if (Math.floor(equity[i]!.time / 86_400_000) !== Math.floor(equity[i - 1]!.time / 86_400_000))
      times.push(equity[i - 1]!.time);
  }
  times.push(equity.at(-1)!.time);
  return { ...r, times };
}

export interface HeldSymbol {
  /** the price bought at: the open of the window's first bar */
  first: number;
  /** bar close times (ms) and closes, ascending */
  closeTime: ArrayLike<number>;
  close: ArrayLike<number>;
}

/**
 * Equal-weight buy and hold: `initial` split evenly over the symbols at their first price, held
 * unchanged; its value at each equity row's time, marked at each symbol's latest close at or
 * before it (the first price before its first close). Ends at initial × (1 + the report's
 * buy-and-hold %), which averages the same per-symbol returns.
 */
export function buyAndHoldCurve(
  equity: readonly EquityRow[],
  held: readonly HeldSymbol[],
  initial: number,
): EquityRow[] {
  if (held.length === 0) return [];
  const cursor = held.map(() => -1);
  return equity.map((p) => {
    let value = 0;
    held.forEach((h, k) => {
      while (cursor[k]! + 1 < h.closeTime.length && h.closeTime[cursor[k]! + 1]! <= p.time) cursor[k] = cursor[k]! + 1;
      const price = cursor[k]! >= 0 ? h.close[cursor[k]!]! : h.first;
      value += (initial / held.length) * (price / h.first);
    });
    return { time: p.time, equity: value };
  });
}
