/**
 * A worker thread that runs tuning trials: it loads its own data once (from the dataset path, or
 * the columns it was handed), then answers {id, params, window} with {id, value, attrs}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseSettings, SETTING_NAMES } from '../pipelines/settings.ts';
import { preloadStrategies } from '../strategies/registry.ts';
import { evaluateBacktest, loadSource, type DataSource } from './backtest-objective.ts';
import type { ReturnsBasis } from '../backtests/report/metrics.ts';
import type { ObjectiveName } from './objectives.ts';
import type { FundingRate } from '../pipelines/model/index.ts';
import type { Params } from './samplers/types.ts';
import type { TimeWindow } from './walk-forward.ts';

export interface WorkerInit {
  source: DataSource;
  settings: Record<string, unknown>;
  objective: ObjectiveName;
  minTrades: number;
  /** the study's Sharpe estimator (see BacktestObjective) */
  returnsBasis?: ReturnsBasis;
  /** values for strategy files' own settings (see preloadStrategies) */
  strategyValues?: Readonly<Record<string, unknown>>;
  /** the funding history every trial pays (see BacktestObjective) */
  fundingRates?: readonly FundingRate[];
}

export type WorkerRequest = { id: number; params: Params; window?: TimeWindow } | { id: number; crash: true };
export type WorkerReply =
  | { ready: true }
  | { id: number; ok: true; value: number; attrs?: Record<string, unknown> }
  | { id: number; ok: false; error: string };

const init = workerData as WorkerInit;
const port = parentPort!;
const base = parseSettings(init.settings);
// strategy files are imported once this module has finished loading: importing them while it
// loads would close a cycle through the modules they share with it (the strategy kit)
await new Promise((resolve) => setImmediate(resolve));
await preloadStrategies(base.STRATEGIES, new Set(SETTING_NAMES), init.strategyValues);
const series = await loadSource(init.source);
port.postMessage({ ready: true } satisfies WorkerReply);
port.on('message', (msg: WorkerRequest) => {
  if ('crash' in msg) process.exit(3); // tests: a worker dying mid-trial
  try {
    const e = evaluateBacktest(
      {
        base,
        objective: init.objective,
        minTrades: init.minTrades,
        returnsBasis: init.returnsBasis,
        fundingRates: init.fundingRates,
      },
      series,
      msg.params,
      msg.window,
    );
    port.postMessage({ id: msg.id, ok: true, value: e.value, attrs: e.attrs } satisfies WorkerReply);
  } catch (error) {
    port.postMessage({
      id: msg.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    } satisfies WorkerReply);
  }
});
