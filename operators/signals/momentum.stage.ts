import type { Stage } from '../../pipelines/stage.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import { operatorStage } from '../../pipelines/operator-stage.ts';
import { momentum } from './momentum.ts';
import { MomentumSettings } from './momentum.settings.ts';

/** The momentum operator as a stage: features in, signals out, no state. */
export function momentumStage(s: MomentumSettings): Stage<'features'> {
  return operatorStage({
    name: 'momentum',
    operator: momentum(s),
    consumes: ['features'],
    produces: ['signal'],
    settings: pickSettings(s, MomentumSettings),
    rebuildFrom: {},
  });
}
