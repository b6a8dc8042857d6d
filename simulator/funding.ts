import type { FundingRate } from '../pipelines/model/index.ts';

/** One funding settlement of a symbol: its time on the market clock and its rate. */
export interface FundingEvent {
  readonly symbol: string;
  readonly fundingTime: number;
  readonly rate: number;
}

const HOUR = 3_600_000;

/**
 * The funding schedule of the replayed market. A symbol with real history (the shipped funding files,
 * `/fapi/v1/fundingRate` dumps) settles at each of its recorded funding times with the recorded rate,
 * whatever the spacing (Binance stamps them a few ms after the hour, some symbols pay every 4 h or 1 h);
 * its interval, served by `fundingInfo`, is the most common gap between its rows. A symbol without
 * history settles every `defaultIntervalMs` at `defaultRate`, the documented fallback.
 * Nothing here reads a clock: every question carries the market time it is asked at.
 */
export class FundingSchedule {
  private readonly rows = new Map<string, FundingEvent[]>();
  private readonly intervals = new Map<string, number>();

  constructor(
    symbols: readonly string[],
    history: readonly FundingRate[],
    private readonly defaultRate: number,
    private readonly defaultIntervalMs: number,
  ) {
    for (const s of symbols) this.rows.set(s, []);
    for (const r of history)
      this.rows.get(r.symbol)?.push({ symbol: r.symbol, fundingTime: r.fundingTime, rate: r.rate });
    for (const [s, list] of this.rows) {
      list.sort((a, b) => a.fundingTime - b.fundingTime);
      this.intervals.set(s, list.length > 1 ? commonGap(list) : defaultIntervalMs);
    }
  }

  /** hours between settlements, as `fundingInfo.fundingIntervalHours` reports it */
  intervalHours(symbol: string): number {
    return (this.intervals.get(symbol) ?? this.defaultIntervalMs) / HOUR;
  }

  /** the settlements with after < fundingTime ≤ upTo, oldest first */
  due(symbol: string, after: number, upTo: number): FundingEvent[] {
    const list = this.rows.get(symbol) ?? [];
    if (list.length > 0) return list.slice(firstAfter(list, after), firstAfter(list, upTo));
    const out: FundingEvent[] = [];
    const step = this.defaultIntervalMs;
    for (let t = (Math.floor(after / step) + 1) * step; t <= upTo; t += step)
      out.push({ symbol, fundingTime: t, rate: this.defaultRate });
    return out;
  }

  /** the rate of the last settlement at or before `at` (the default rate before any) */
  lastRate(symbol: string, at: number): number {
    const list = this.rows.get(symbol) ?? [];
    if (list.length === 0) return this.defaultRate;
    const i = firstAfter(list, at) - 1;
    return i >= 0 ? list[i]!.rate : this.defaultRate;
  }

  /** the next settlement time after `at` */
  nextTime(symbol: string, at: number): number {
    const list = this.rows.get(symbol) ?? [];
    const i = firstAfter(list, at);
    if (i < list.length) return list[i]!.fundingTime;
    const step = this.intervals.get(symbol) ?? this.defaultIntervalMs;
    const last = list.at(-1)?.fundingTime;
    if (last !== undefined) return last + Math.ceil((at + 1 - last) / step) * step;
    return (Math.floor(at / step) + 1) * step;
  }
}

/** index of the first row with fundingTime > t (binary search) */
function firstAfter(list: readonly FundingEvent[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.fundingTime <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** the most frequent gap between consecutive rows, rounded to the hour (rows carry a few ms of jitter) */
function commonGap(list: readonly FundingEvent[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < list.length; i++) {
    const gap = Math.max(1, Math.round((list[i]!.fundingTime - list[i - 1]!.fundingTime) / HOUR)) * HOUR;
    counts.set(gap, (counts.get(gap) ?? 0) + 1);
  }
  let best = 8 * HOUR;
  let bestCount = 0;
  for (const [gap, n] of counts) if (n > bestCount) [best, bestCount] = [gap, n];
  return best;
}
