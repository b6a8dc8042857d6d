import type { BarColumns } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { gapLimitBars } from '../../operators/features/features.kernel.ts';

/**
 * Holes in bar data. A gap is any step between consecutive bars of one symbol longer than one
 * interval (zero-volume bars are bars, not gaps). Every gap is reported; a gap of more than
 * MAX_GAP_BARS missing bars (0 = one day of bars at the data's interval) is a hole: a run across
 * it is refused unless the user allows it, and then indicators warm up again after it.
 */
export interface DataGap {
  symbol: string;
  /** open time of the last bar before the gap */
  lastBefore: number;
  /** open time of the first bar after the gap */
  firstAfter: number;
  /** bars that should be there and are not */
  missingBars: number;
  /** `file:line` of the first bar after the gap, when the data came from a file */
  at?: string;
}

/** Every gap of one series; `where(i)` names row i's file and line when known. */
export function findGaps(c: BarColumns, where?: (row: number) => string): DataGap[] {
  const out: DataGap[] = [];
  const step = c.intervalMs;
  for (let i = 1; i < c.length; i++) {
    const d = c.openTime[i]! - c.openTime[i - 1]!;
    if (d <= step) continue;
    const gap: DataGap = {
      symbol: c.symbol,
      lastBefore: c.openTime[i - 1]!,
      firstAfter: c.openTime[i]!,
      missingBars: Math.round(d / step) - 1,
    };
    if (where) gap.at = where(i);
    out.push(gap);
  }
  return out;
}

const iso = (t: number): string => new Date(t).toISOString();

export function describeGap(g: DataGap): string {
  const days = ((g.firstAfter - g.lastBefore) / 86_400_000).toFixed(1);
  return (
    `${g.at !== undefined ? `${g.at}: ` : ''}${g.symbol} has no bars between ${iso(g.lastBefore)} and ${iso(g.firstAfter)} ` +
    `(${g.missingBars} bars missing, ${days} days)`
  );
}

/**
 * Refuses a hole (more than `maxGapBars` missing, 0 = one day of bars) unless allowed; returns
 * the holes (allowed ones included) so the caller can report them.
 */
export function checkGaps(
  gaps: readonly DataGap[],
  intervalMs: number,
  maxGapBarsSetting: number,
  allowGaps: boolean,
): DataGap[] {
  const limit = gapLimitBars(maxGapBarsSetting, intervalMs);
  const holes = gaps.filter((g) => g.missingBars > limit);
  if (holes.length > 0 && !allowGaps) {
    const more = holes.length > 1 ? ` (and ${holes.length - 1} more)` : '';
    throw new SapphireError(
      'DATA_FILE_INVALID',
      `${describeGap(holes[0]!)}${more}: longer than MAX_GAP_BARS=${limit} bars; ` +
        'a backtest across it would measure returns and durations over time with no data. ' +
        'Choose a window without it (--from/--to) or pass --allow-gaps (indicators then warm up again after it)',
    );
  }
  return holes;
}
