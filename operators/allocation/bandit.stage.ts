import type { Stage } from '../../pipelines/stage.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import { operatorStage } from '../../pipelines/operator-stage.ts';
import { banditAllocation } from './bandit.ts';
import { BanditSettings } from './bandit.settings.ts';

/**
 * The bandit operator as a stage. Its state (arms, seeded draws) follows from the decisions and
 * closed trades it has seen, so a snapshot keeps those and a restore replays them.
 */
export function banditStage(
  s: BanditSettings & { SEED: number; BAR_INTERVAL: string },
): Stage<'decision' | 'trade-closed'> {
  return operatorStage({
    name: 'bandit',
    operator: banditAllocation(s),
    consumes: ['decision', 'trade-closed'],
    produces: ['allocated', 'denied'],
    settings: pickSettings(s, BanditSettings, ['SEED', 'BAR_INTERVAL']),
    rebuildFrom: { every: ['decision', 'trade-closed'] },
  });
}
