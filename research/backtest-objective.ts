import { loadDataset } from '../backtests/data/index.ts';
import { runBacktest } from '../backtests/run-backtest.ts';
import { periodReturns, riskRatios, type ReturnsBasis } from '../backtests/report/metrics.ts';
import type { BarColumns, FundingRate } from '../pipelines/model/index.ts';
import { DEFAULT_SETTINGS, withOverrides, type Settings } from '../pipelines/settings.ts';
import { fileStrategyValues, resolveStrategies } from '../strategies/registry.ts';
import { scoreTrial, type ObjectiveName } from './objectives.ts';
import type { Params } from './samplers/types.ts';
import type { Evaluation } from './study.ts';
import { encodeReturns } from './trial-returns.ts';
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
  /**
   * the Sharpe/Sortino estimator for every window of the study (chosen from the whole data's
   * span); without it each window picks from its own span
   */
  returnsBasis?: ReturnsBasis;
  /** the funding history every trial pays (as `sapphire backtest` does); none = the constant FUNDING_RATE */
  fundingRates?: readonly FundingRate[];
}

/** One trial: the base settings with the trial's values, backtested over the window, scored. */
export function evaluateBacktest(
  o: BacktestObjective,
  series: readonly BarColumns[],
  params: Params,
  window: TimeWindow | undefined,
): Evaluation {
  // a strategy file's own parameters go to its schema, the rest to the platform's settings
  const platform: Params = {};
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) (k in DEFAULT_SETTINGS ? platform : own)[k] = v;
  const settings = withOverrides(o.base, platform, 'the trial');
  const strategies =
    Object.keys(own).length > 0 ? resolveStrategies(settings, { ...fileStrategyValues(), ...own }) : undefined;
  const result = runBacktest({
    settings,
    series,
    from: window?.from,
    to: window?.to,
    strategies,
    fundingRates: o.fundingRates,
  });
  // one estimator for the whole study: train and test windows of any length score alike
  const ratios = riskRatios(result.equity, result.intervalMs, o.returnsBasis);
  const score = scoreTrial(o.objective, { ...result.metrics, ...ratios }, o.minTrades);
  const { returns, basis } = periodReturns(result.equity, result.intervalMs, ratios.returnsBasis);
  return {
    value: score.value,
    attrs: {
      raw: Number.isFinite(score.raw) ? score.raw : null,
      feasible: score.feasible,
      ...(score.violation ? { violation: score.violation } : {}),
      metrics: score.metrics,
      // each strategy's part (several can run in one trial): the report shows them side by side
      strategies: result.strategies.map((x) => ({
        strategy: x.strategy,
        trades: x.trades,
        netPnl: x.netPnl,
        winRate: x.winRate,
        meanShare: x.meanShare,
      })),
      // the trial's returns on the study's grid, for the Deflated Sharpe Ratio and PBO
      returns: encodeReturns(returns, basis, result.equity[0]?.time ?? 0),
    },
  };
}
