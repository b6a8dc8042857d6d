import { defineOperator } from '../../pipelines/operator-kit.ts';
import { from, mergeMap, toArray } from 'rxjs';
import type { BarColumns, PipelineEvent, Signal } from '../../pipelines/model/index.ts';
import type { AgentStage } from '../../backtests/lookahead-check.ts';

/**
 * Cheating agent stages for the look-ahead check: each keeps only the signals that agree with where
 * price goes after them. They sit where the agents do (signals in, signals out).
 */

const agrees = (s: Signal, later: number): boolean => Math.sign(later - s.price) === s.direction;

/** (a) reads the NEXT bar's close out of the data it was given, synchronously. */
export function peekNextClose(series: readonly BarColumns[]): AgentStage {
  const next = new Map<string, Map<number, number>>();
  for (const c of series) {
    const byOpen = new Map<number, number>();
    for (let i = 0; i < c.length; i++) byOpen.set(c.openTime[i]!, c.close[i]!);
    next.set(c.symbol, byOpen);
  }
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => ({
    next(e) {
      if (e.kind !== 'signal') return emit(e);
      // the signal's time is its bar's close: the next bar opens then
      const close = next.get(e.symbol)?.get(e.time);
      if (close === undefined || agrees(e, close)) emit(e);
    },
  }));
}

/** (a) decides on the NEXT bar's close through the stream: holds each signal until that bar arrives. */
export const holdForNextClose: AgentStage = defineOperator<PipelineEvent, PipelineEvent>((emit) => {
  const held = new Map<string, Signal>();
  return {
    next(e) {
      if (e.kind === 'signal') {
        held.set(e.symbol, e);
        return;
      }
      emit(e);
      if (e.kind === 'bar') {
        const s = held.get(e.symbol);
        if (s !== undefined && s.time < e.time) {
          held.delete(e.symbol);
          if (agrees(s, e.close)) emit(s);
        }
      }
    },
    complete() {
      for (const s of held.values()) emit(s);
    },
  };
});

/** (b) reads the data's LAST bar out of the data it was given. */
export function peekLastClose(series: readonly BarColumns[]): AgentStage {
  const last = new Map(series.map((c) => [c.symbol, c.close[c.length - 1]!]));
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => ({
    next(e) {
      if (e.kind !== 'signal' || agrees(e, last.get(e.symbol)!)) emit(e);
    },
  }));
}

/** (b) reads the data's LAST bar through the stream: waits for all of it first. */
export const waitForLastClose: AgentStage = (source) =>
  source.pipe(
    toArray(),
    mergeMap((all) => {
      const last = new Map<string, number>();
      for (const e of all) if (e.kind === 'bar') last.set(e.symbol, e.close);
      return from(all.filter((e) => e.kind !== 'signal' || agrees(e, last.get(e.symbol)!)));
    }),
  );
