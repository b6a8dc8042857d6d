import { Observable } from 'rxjs';
import type { Bar, BarColumns } from '../../pipelines/model/index.ts';
import { forEachMergedBar } from '../../backtests/data/index.ts';

/**
 * Real recorded bars played back at a wall-clock pace: every `stepMs` the next time step (all
 * symbols' bars with that close time) is emitted. Used by tests, the load bench and the soak
 * runs to drive the live runner at a chosen speed without an exchange; the embedded default
 * uses the exchange simulator instead, which plays the same data over the Aster protocol.
 */
export interface ReplayPlan {
  /** bars before this time are history (warm-up), from it on they are the live feed */
  liveFrom: number;
  stepMs: number;
  /** stop after this many live time steps (bounded runs) */
  maxSteps?: number;
}

export function splitReplay(series: readonly BarColumns[], liveFrom: number): { history: Bar[]; live: Bar[][] } {
  const history: Bar[] = [];
  const live: Bar[][] = [];
  forEachMergedBar(series, (bar) => {
    if (bar.openTime < liveFrom) history.push(bar);
    else if (live.length > 0 && live.at(-1)![0]!.time === bar.time) live.at(-1)!.push(bar);
    else live.push([bar]);
  });
  return { history, live };
}

export function replayMarket(
  series: readonly BarColumns[],
  plan: ReplayPlan,
): { history: Bar[]; bars: Observable<Bar> } {
  const { history, live } = splitReplay(series, plan.liveFrom);
  const steps = plan.maxSteps === undefined ? live : live.slice(0, plan.maxSteps);
  const bars = new Observable<Bar>((subscriber) => {
    let i = 0;
    const timer = setInterval(() => {
      const step = steps[i++];
      if (step === undefined) {
        clearInterval(timer);
        subscriber.complete();
        return;
      }
      for (const bar of step) subscriber.next(bar);
    }, plan.stepMs);
    return () => clearInterval(timer);
  });
  return { history, bars };
}
