/**
 * A worker thread of the parallel look-ahead check: its own full run, then its share of the cuts.
 * Agents come from the settings, as in `sapphire backtest` (embedded, or replayed from AGENT_TAPE).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSapphireError } from '../pipelines/errors.ts';
import { SETTING_NAMES } from '../pipelines/settings.ts';
import { preloadStrategies } from '../strategies/registry.ts';
import { backtestAgentStage } from '../agents/build-agents.ts';
import { checkShare, type LookaheadWorkerInit, type LookaheadWorkerReply } from './lookahead-check.ts';

const init = workerData as LookaheadWorkerInit;
try {
  await preloadStrategies(init.settings.STRATEGIES, new Set(SETTING_NAMES), init.strategyValues);
  const reply: LookaheadWorkerReply = checkShare(
    {
      settings: init.settings,
      series: init.series,
      fundingRates: init.fundingRates,
      cuts: init.cuts,
      agents: backtestAgentStage(init.settings),
      stopAtFirst: init.stopAtFirst,
    },
    init.lateStamps,
  );
  parentPort!.postMessage({ ok: true, reply });
} catch (error) {
  // a coded error keeps its code across the thread boundary
  const code = isSapphireError(error) ? error.code : null;
  const message = isSapphireError(error) ? error.message.slice(error.code.length + 2) : String(error);
  parentPort!.postMessage({
    ok: false,
    code,
    error: error instanceof Error && code === null ? error.message : message,
  });
}
