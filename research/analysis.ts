import { sampleCorrelation } from 'simple-statistics';
import type { SearchSpace } from '../pipelines/search-space.ts';
import type { TrialRecord } from './storage/types.ts';

export interface ParamSummary {
  name: string;
  /** value of the best trial */
  best: number | string | boolean | null;
  /** smallest and largest value among the top 10 % of feasible trials (numbers only) */
  topLow: number | null;
  topHigh: number | null;
  /** |Spearman rank correlation| of the parameter with the objective over feasible trials (0..1) */
  importance: number | null;
}

function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2; // ties share their mean rank
    for (let k = i; k <= j; k++) out[order[k]![1]] = r;
    i = j + 1;
  }
  return out;
}

function feasible(t: TrialRecord): boolean {
  return (
    t.state === 'complete' &&
    t.value !== undefined &&
    (t.attrs as { feasible?: boolean } | undefined)?.feasible !== false
  );
}

/** Per parameter: best value, best range (top 10 %) and a rank-correlation importance. */
export function summariseParams(trials: readonly TrialRecord[], space: SearchSpace): ParamSummary[] {
  const ok = trials.filter(feasible).sort((a, b) => b.value! - a.value!);
  const top = ok.slice(0, Math.max(1, Math.ceil(ok.length * 0.1)));
  return Object.keys(space).map((name) => {
    const spec = space[name]!;
    const best = ok[0]?.params[name] ?? null;
    if (spec.type === 'categorical') return { name, best, topLow: null, topHigh: null, importance: null };
    const topValues = top.map((t) => Number(t.params[name])).filter(Number.isFinite);
    let importance: number | null = null;
    if (ok.length >= 5) {
      const xs = ok.map((t) => Number(t.params[name]));
      const ys = ok.map((t) => t.value!);
      const rx = ranks(xs);
      const ry = ranks(ys);
      const constant = rx.every((r) => r === rx[0]) || ry.every((r) => r === ry[0]);
      importance = constant ? 0 : Math.abs(sampleCorrelation(rx, ry));
    }
    return {
      name,
      best,
      topLow: topValues.length ? Math.min(...topValues) : null,
      topHigh: topValues.length ? Math.max(...topValues) : null,
      importance,
    };
  });
}
