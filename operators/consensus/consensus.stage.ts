import type { Stage } from '../../pipelines/stage.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import { operatorStage } from '../../pipelines/operator-stage.ts';
import { consensus } from './consensus.ts';
import { ConsensusSettings } from './consensus.settings.ts';
import { MomentumSettings } from '../signals/momentum.settings.ts';

/** The consensus operator as a stage; its state is the positions of the last portfolio. */
export function consensusStage(s: ConsensusSettings & MomentumSettings): Stage<'portfolio' | 'signal'> {
  return operatorStage({
    name: 'consensus',
    operator: consensus(s),
    consumes: ['portfolio', 'signal'],
    produces: ['decision', 'denied'],
    settings: pickSettings(s, ConsensusSettings, MomentumSettings),
    rebuildFrom: { last: ['portfolio'] },
  });
}
