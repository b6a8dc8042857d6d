import { fileStrategyValues } from '../strategies/registry.ts';
import type { BarColumns, FundingRate } from '../pipelines/model/index.ts';
import type { SearchSpace } from '../pipelines/search-space.ts';
import type { Settings } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { returnsBasisFor, type ReturnsBasis } from '../backtests/report/metrics.ts';
import { evaluateBacktest, type DataSource } from './backtest-objective.ts';
import type { ObjectiveName, TrialMetrics } from './objectives.ts';
import { createSampler } from './samplers/tpe.ts';
import { validateSpace } from './samplers/space.ts';
import type { Params } from './samplers/types.ts';
import type { StudyStorage, TrialRecord } from './storage/types.ts';
import { bestTrial, runStudy, type Evaluation } from './study.ts';
import { studyLuck, type StudyLuck } from './trial-returns.ts';
import { makeFolds, type Fold, type TimeWindow } from './walk-forward.ts';
import { TrialPool } from './worker-pool.ts';

export interface TuneOptions {
  base: Settings;
  /** the bars (main thread: fold edges and in-process trials) */
  series: readonly BarColumns[];
  /** what worker threads load for themselves */
  source: DataSource;
  space: SearchSpace;
  objective: ObjectiveName;
  minTrades: number;
  sampler: 'tpe' | 'random';
  /** TPE: one joint mixture over all parameters */
  multivariate?: boolean;
  /** trials per fold */
  trials: number;
  /** worker threads; 0 runs trials in this thread (small data, tests) */
  workers: number;
  storage: StudyStorage;
  study: string;
  folds: number;
  trainRatio?: number;
  seed: number;
  workerId: string;
  leaseMs?: number;
  /** the funding history every trial pays; none = the constant FUNDING_RATE */
  fundingRates?: readonly FundingRate[];
  onTrial?: (fold: number, trial: TrialRecord, all: readonly TrialRecord[]) => void;
}

export interface ScoredWindow {
  window: TimeWindow;
  value: number | null;
  raw: number | null;
  feasible: boolean;
  metrics: TrialMetrics | null;
  /** each strategy's trades, net PnL, win rate and mean capital share in the window */
  strategies: StrategyPart[];
}

export interface StrategyPart {
  strategy: string;
  trades: number;
  netPnl: number;
  winRate: number;
  meanShare: number;
}

export interface FoldReport {
  index: number;
  study: string;
  train: TimeWindow;
  test: TimeWindow;
  trials: TrialRecord[];
  best: TrialRecord | null;
  inSample: ScoredWindow;
  outOfSample: ScoredWindow;
  /** the Sharpe/Sortino estimator of both windows (the study's, recorded per fold) */
  returnsBasis: ReturnsBasis;
  /** how much of the fold's winner is luck: DSR of the winner, PBO over the fold's trials */
  luck: StudyLuck;
}

export interface TuneReport {
  objective: ObjectiveName;
  sampler: string;
  params: string[];
  folds: FoldReport[];
  /** the values to use: the winner of the most recent fold (tuned on the latest train window) */
  chosen: Params | null;
  /** one Sharpe/Sortino estimator for every fold, chosen from the whole data's span */
  returnsBasis: ReturnsBasis;
  /** DSR and PBO of the study whose winner is `chosen` (the last fold) */
  luck: StudyLuck | null;
}

/** The data's time span: first openTime to the end of the last bar over all series. */
export function dataSpan(series: readonly BarColumns[]): { start: number; end: number; intervalMs: number } {
  const live = series.filter((c) => c.length > 0);
  if (live.length === 0) throw new SapphireError('DATA_NOT_FOUND', 'no bars to tune on');
  const intervalMs = live[0]!.intervalMs;
  const start = Math.min(...live.map((c) => c.openTime[0]!));
  const end = Math.max(...live.map((c) => c.openTime[c.length - 1]!)) + intervalMs;
  return { start, end, intervalMs };
}

function scored(window: TimeWindow, e: Evaluation | null): ScoredWindow {
  const attrs = e?.attrs as
    { raw?: number | null; feasible?: boolean; metrics?: TrialMetrics; strategies?: StrategyPart[] } | undefined;
  return {
    window,
    value: e ? e.value : null,
    raw: attrs?.raw ?? null,
    feasible: attrs?.feasible ?? false,
    metrics: attrs?.metrics ?? null,
    strategies: attrs?.strategies ?? [],
  };
}

/**
 * Walk-forward tuning: per fold, a persistent study on the train window (trials in worker
 * threads), then its winner backtested on the unseen test window.
 */
export async function runTuning(o: TuneOptions): Promise<TuneReport> {
  validateSpace(o.space);
  const span = dataSpan(o.series);
  const folds: Fold[] = makeFolds({ ...span, folds: o.folds, trainRatio: o.trainRatio });
  // chosen once from the whole data (first to last bar), as a backtest over all of it would choose
  const returnsBasis = returnsBasisFor(span.end - span.intervalMs - span.start);
  const objective = {
    base: o.base,
    objective: o.objective,
    minTrades: o.minTrades,
    returnsBasis,
    fundingRates: o.fundingRates,
  };
  const pool =
    o.workers > 0
      ? await TrialPool.start(o.workers, {
          source: o.source,
          settings: { ...o.base },
          objective: o.objective,
          minTrades: o.minTrades,
          returnsBasis,
          strategyValues: { ...fileStrategyValues() },
          fundingRates: o.fundingRates,
        })
      : null;
  const evaluate = async (params: Params, window: TimeWindow): Promise<Evaluation> =>
    pool ? pool.run(params, window) : evaluateBacktest(objective, o.series, params, window);
  const sampler = createSampler(o.sampler, { multivariate: o.multivariate });
  const reports: FoldReport[] = [];
  try {
    for (const fold of folds) {
      const study = `${o.study}.fold${fold.index + 1}of${folds.length}`;
      const trials = await runStudy({
        storage: o.storage,
        study,
        space: o.space,
        objective: o.objective,
        sampler,
        trials: o.trials,
        concurrency: Math.max(1, o.workers),
        evaluate: (params) => evaluate(params, fold.train),
        seed: o.seed,
        workerId: o.workerId,
        leaseMs: o.leaseMs,
        context: { train: fold.train, test: fold.test, minTrades: o.minTrades },
        onTrial: (t, all) => o.onTrial?.(fold.index, t, all),
      });
      const best = bestTrial(trials);
      let oos: Evaluation | null = null;
      if (best) {
        try {
          oos = await evaluate(best.params, fold.test);
        } catch {
          oos = null;
        }
      }
      reports.push({
        index: fold.index,
        study,
        train: fold.train,
        test: fold.test,
        trials,
        best,
        inSample: scored(fold.train, best ? { value: best.value!, attrs: best.attrs } : null),
        outOfSample: scored(fold.test, oos),
        returnsBasis,
        luck: studyLuck(trials, best),
      });
    }
  } finally {
    await pool?.close();
  }
  const last = reports.at(-1);
  return {
    objective: o.objective,
    sampler: sampler.name,
    params: Object.keys(o.space),
    folds: reports,
    chosen: last?.best && (last.best.attrs as { feasible?: boolean } | undefined)?.feasible ? last.best.params : null,
    returnsBasis,
    luck: last?.luck ?? null,
  };
}
