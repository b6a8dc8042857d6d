import type { OperatorFunction } from 'rxjs';
import type { BarColumns, PipelineEvent } from '../pipelines/model/index.ts';
import type { Settings } from '../pipelines/settings.ts';
import { runBacktest } from './run-backtest.ts';

/** What the strategy decided and did: the events that must not depend on later bars. */
const ACTING = new Set(['decision', 'denied', 'intent', 'order']);

export interface CutOutcome {
  cut: number;
  /** acting events at or before the cut in the full run */
  compared: number;
  /** first event that differs, described; null when identical */
  difference: string | null;
}

function describe(e: PipelineEvent | undefined): string {
  if (!e) return 'nothing';
  const when = new Date(e.time).toISOString();
  return `${e.kind} ${'symbol' in e ? e.symbol : ''} at ${when}`;
}

/**
 * The look-ahead check: runs the backtest on the whole data, then on the data truncated at each
 * cut, and compares every decision, denial, intent and order up to the cut. A pipeline that
 * peeks at later bars decides differently when those bars are missing.
 */
export function checkLookahead(
  settings: Settings,
  series: readonly BarColumns[],
  cuts: readonly number[],
  agents?: OperatorFunction<PipelineEvent, PipelineEvent>,
): CutOutcome[] {
  const full = runBacktest({ settings, series, agents, keepEvents: true }).events!.filter((e) => ACTING.has(e.kind));
  return cuts.map((cut) => {
    const truncated = runBacktest({ settings, series, agents, to: cut, keepEvents: true }).events!.filter(
      // the truncated run ends at `cut`: compare what was decided on bars closing by then
      (e) => ACTING.has(e.kind) && e.time <= cut,
    );
    const expected = full.filter((e) => e.time <= cut);
    let difference: string | null = null;
    const n = Math.max(expected.length, truncated.length);
    for (let i = 0; i < n; i++) {
      if (JSON.stringify(expected[i]) !== JSON.stringify(truncated[i])) {
        difference = `event ${i}: full run has ${describe(expected[i])}, truncated run has ${describe(truncated[i])}`;
        break;
      }
    }
    return { cut, compared: expected.length, difference };
  });
}

/** `count` cut times spread over the data (bar open times, so each cut ends on a bar boundary). */
export function spreadCuts(series: readonly BarColumns[], count: number): number[] {
  const first = series[0]!;
  const out: number[] = [];
  for (let k = 1; k <= count; k++) {
    const i = Math.floor((first.length * k) / (count + 1));
    out.push(first.openTime[i]!);
  }
  return out;
}
