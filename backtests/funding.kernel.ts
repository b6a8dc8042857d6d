import type { FundingRate } from '../pipelines/model/index.ts';
import { fundingTimesBetween } from './fill-model.kernel.ts';

/**
 * When funding is settled in a backtest. The rule, whatever the bar interval (1 m … 8 h) and
 * whatever the funding interval (8 h, 4 h, 1 h, irregular):
 *
 *   a funding row applies at the first bar of its symbol that OPENS at or after its funding time,
 *   on the position held into that bar's open, marked at that open.
 *
 * So a venue asks, at each bar, for the rows in (previous bar's open, this bar's open]. Rows are
 * matched by time order, never by exact millisecond: a row stamped 00:00:00.001 (Binance's
 * `fundingTime` often is) applies at the same bar as one stamped 00:00. A symbol with no row in
 * the history pays the constant FUNDING_RATE every 8 h from 00:00 UTC, by the same rule; so does
 * a symbol outside the span its history covers (more than an hour before its first row or after
 * its last), so a history of a few months never means "no funding" for the rest of the data.
 */
export interface FundingDue {
  /** the funding time (the row's, or the 8-hour grid's) */
  readonly time: number;
  readonly rate: number;
}

export interface FundingSchedule {
  /** rows of `symbol` with afterOpenTime < time ≤ openTime (none before the symbol's first bar) */
  due(symbol: string, afterOpenTime: number, openTime: number): readonly FundingDue[];
  /** symbols that have a history (the others use the constant rate) */
  readonly symbols: ReadonlySet<string>;
}

const NOTHING: readonly FundingDue[] = Object.freeze([]);
const EIGHT_HOURS = 8 * 3_600_000;
const HOUR = 3_600_000;

/** first index with times[i] > x */
function upperBound(times: Float64Array, x: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function fundingSchedule(rates: readonly FundingRate[], constantRate: number): FundingSchedule {
  const grouped = new Map<string, FundingRate[]>();
  for (const r of rates) {
    let list = grouped.get(r.symbol);
    if (list === undefined) grouped.set(r.symbol, (list = []));
    list.push(r);
  }
  const bySymbol = new Map<string, { times: Float64Array; rows: FundingDue[]; from: number; to: number }>();
  for (const [symbol, list] of grouped) {
    list.sort((a, b) => a.fundingTime - b.fundingTime);
    bySymbol.set(symbol, {
      times: Float64Array.from(list, (r) => r.fundingTime),
      rows: list.map((r) => ({ time: r.fundingTime, rate: r.rate })),
      from: list[0]!.fundingTime - HOUR,
      to: list[list.length - 1]!.fundingTime + HOUR,
    });
  }
  return {
    symbols: new Set(bySymbol.keys()),
    due(symbol, afterOpenTime, openTime) {
      // before a symbol's first bar nothing was held: nothing is due
      if (!Number.isFinite(afterOpenTime) || openTime <= afterOpenTime) return NOTHING;
      const h = bySymbol.get(symbol);
      const constant = (keep: (t: number) => boolean): FundingDue[] =>
        fundingTimesBetween(afterOpenTime, openTime, EIGHT_HOURS)
          .filter(keep)
          .map((time) => ({ time, rate: constantRate }));
      if (h === undefined) {
        const due = constant(() => true);
        return due.length === 0 ? NOTHING : due;
      }
      const lo = upperBound(h.times, afterOpenTime);
      const hi = upperBound(h.times, openTime);
      const rows = lo === hi ? NOTHING : h.rows.slice(lo, hi);
      if (afterOpenTime >= h.from && openTime <= h.to) return rows;
      // partly outside the history's span: the constant grid there
      const outside = constant((t) => t < h.from || t > h.to);
      return outside.length === 0 ? rows : [...rows, ...outside].sort((a, b) => a.time - b.time);
    },
  };
}

export interface FundingCoverage {
  /** rows that apply at some bar of the data */
  matched: number;
  /** rows that apply at no bar, by symbol: before its first bar, after its last, or no such series */
  unmatched: { symbol: string; rows: number; reason: 'no-series' | 'before-data' | 'after-data' }[];
  /** series with no row at all (they pay the constant rate) */
  constantSymbols: string[];
  /** series whose bars reach beyond the span of their history (the constant rate applies there) */
  partial: { symbol: string; from: number; to: number }[];
}

/**
 * Which rows of a history meet the data: a row is matched when its symbol has bars and
 * first open ≤ fundingTime ≤ last open (then some bar opens at or after it, with one before it
 * or at it). Everything else is counted so the caller can warn about it.
 */
export function fundingCoverage(
  rates: readonly FundingRate[],
  series: readonly { symbol: string; firstOpen: number; lastOpen: number }[],
): FundingCoverage {
  const span = new Map(series.map((s) => [s.symbol, s]));
  const counts = new Map<string, number>();
  let matched = 0;
  const seen = new Set<string>();
  const spans = new Map<string, { from: number; to: number }>();
  for (const r of rates) {
    seen.add(r.symbol);
    const sp = spans.get(r.symbol);
    if (sp === undefined) spans.set(r.symbol, { from: r.fundingTime, to: r.fundingTime });
    else {
      sp.from = Math.min(sp.from, r.fundingTime);
      sp.to = Math.max(sp.to, r.fundingTime);
    }
    const s = span.get(r.symbol);
    const reason =
      s === undefined
        ? 'no-series'
        : r.fundingTime < s.firstOpen
          ? 'before-data'
          : r.fundingTime > s.lastOpen
            ? 'after-data'
            : null;
    if (reason === null) matched++;
    else counts.set(`${r.symbol}|${reason}`, (counts.get(`${r.symbol}|${reason}`) ?? 0) + 1);
  }
  const unmatched = [...counts.entries()].map(([key, rows]) => {
    const [symbol, reason] = key.split('|') as [string, 'no-series' | 'before-data' | 'after-data'];
    return { symbol, rows, reason };
  });
  unmatched.sort((a, b) => a.symbol.localeCompare(b.symbol) || a.reason.localeCompare(b.reason));
  const partial = series.flatMap((s) => {
    const sp = spans.get(s.symbol);
    if (sp === undefined) return [];
    // bars more than one funding interval (8 h) beyond the history's first or last row
    return s.firstOpen < sp.from - EIGHT_HOURS || s.lastOpen > sp.to + EIGHT_HOURS ? [{ symbol: s.symbol, ...sp }] : [];
  });
  return { matched, unmatched, constantSymbols: series.map((s) => s.symbol).filter((s) => !seen.has(s)), partial };
}
