import { loadDataset } from '../backtests/data/index.ts';
import { runBacktest } from '../backtests/run-backtest.ts';
import type { BarColumns } from '../pipelines/model/index.ts';
import { withOverrides, type Settings } from '../pipelines/settings.ts';
import { scoreTrial, type ObjectiveName } from './objectives.ts';
import type { Params } from './samplers/types.ts';
import type { Evaluation } from './study.ts';
import type { TimeWindow } from './walk-forward.ts';

/** Where trial workers get bars: a dataset path they load themselves, or columns handed over. */
export type DataSource =
  { dir: string; symbols?: readonly string[]; from?: number; to?: number } | { series: readonly BarColumns[] };

export async function loadSource(source: DataSource): Promise<BarColumns[]> {
  if ('series' in source) return [...source.series];
  return loadDataset({ dir: source.dir, symbols: source.symbols, from: source.from, to: source.to });
}

export interface BacktestObjective {
  base: Settings;
  objective: ObjectiveName;
  minTrades: number;
}

/** One trial: the base settings with the trial's values, backtested over the window, scored. */
export function evaluateBacktest(
  o: BacktestObjective,
  series: readonly BarColumns[],
  params: Params,
  window: TimeWindow | undefined,
): Evaluation {
  const settings = withOverrides(o.base, params, 'the trial');
  const result = runBacktest({ settings, series, from: window?.from, to: window?.to });
  const score = scoreTrial(o.objective, result.metrics, o.minTrades);
  return {
    value: score.value,
    attrs: {
      raw: Number.isFinite(score.raw) ? score.raw : null,
      feasible: score.feasible,
      ...(score.violation ? { violation: score.violation } : {}),
      metrics: score.metrics,
    },
  };
}
