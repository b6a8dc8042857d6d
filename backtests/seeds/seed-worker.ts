/**
 * A worker thread for `--seeds`: it holds one backtest's inputs and answers each seed it is sent
 * with that run's headline figures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { parseSettings, SETTING_NAMES, withOverrides } from '../../pipelines/settings.ts';
import { preloadStrategies } from '../../strategies/registry.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { runBacktest } from '../run-backtest.ts';
import { headlineOf, type SeedJob, type SeedReply } from './seeds.ts';

const job = workerData as SeedJob;
const port = parentPort!;
const base = parseSettings(job.settings);
await preloadStrategies(base.STRATEGIES, new Set(SETTING_NAMES), job.strategyValues);
port.on('message', (seed: number) => {
  try {
    const settings = withOverrides(base, { SEED: seed }, '--seeds');
    const result = runBacktest({
      settings,
      series: job.series,
      from: job.from,
      to: job.to,
      fundingRates: job.fundingRates,
      agents: backtestAgentStage(settings),
    });
    port.postMessage({ seed, ok: true, headline: headlineOf(seed, result.metrics) } satisfies SeedReply);
  } catch (error) {
    // a coded error keeps its code across the thread (the message already starts with it)
    const reply: SeedReply = isSapphireError(error)
      ? { seed, ok: false, error: error.message.slice(error.code.length + 2), code: error.code }
      : { seed, ok: false, error: error instanceof Error ? error.message : String(error) };
    port.postMessage(reply);
  }
});
port.postMessage({ ready: true } satisfies SeedReply);
