import type { Stage } from '../../pipelines/stage.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import { operatorStage } from '../../pipelines/operator-stage.ts';
import type { LoadedStrategy } from '../../strategies/kit/contract.ts';
import { strategySignals, type StrategySignalDeps, type StrategySignalSettings } from './strategy-signals.ts';

/**
 * The strategies operator as a stage: bars, features and portfolios in, signals (and
 * strategies-disagree denials) out. Its state — every strategy's streaming indicators per symbol
 * and who owns each position — depends on every event it consumes, so a restore replays them all
 * (kept only when the run is snapshotted). Its settings fragment holds every running strategy's own
 * settings, so a changed strategy setting changes the pipeline's fingerprint.
 */
export function strategySignalsStage(
  strategies: readonly LoadedStrategy[],
  s: StrategySignalSettings,
  deps: StrategySignalDeps = {},
): Stage<'bar' | 'features' | 'portfolio'> {
  return operatorStage({
    name: 'strategies',
    operator: strategySignals(strategies, s, deps),
    consumes: ['bar', 'features', 'portfolio'],
    produces: ['signal', 'denied'],
    settings: Object.assign(
      pickSettings(s, ['BAR_INTERVAL', 'MAX_GAP_BARS', 'STRATEGIES']),
      ...strategies.map((l) => l.settings),
    ) as Readonly<Record<string, unknown>>,
    rebuildFrom: { every: ['bar', 'features', 'portfolio'] },
  });
}
