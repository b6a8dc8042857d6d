import type { Stage } from '../../pipelines/stage.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import { operatorStage } from '../../pipelines/operator-stage.ts';
import { consensus } from './consensus.ts';
import { ConsensusSettings } from './consensus.settings.ts';

/** The consensus operator as a stage; its state is the positions of the last portfolio. */
export function consensusStage(s: ConsensusSettings): Stage<'portfolio' | 'signal'> {
  return operatorStage({
    name: 'consensus',
    operator: consensus(s),
    consumes: ['portfolio', 'signal'],
    produces: ['decision', 'denied'],
    settings: pickSettings(s, ConsensusSettings),
    rebuildFrom: { last: ['portfolio'] },
  });
}
