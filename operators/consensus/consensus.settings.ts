import { z } from 'zod';
import { num, symbolList } from '../../pipelines/settings-kit.ts';

export const ConsensusSettings = z.object({
  RISK_THRESHOLD: num(0.7, 0, 1, 'an entry is refused when an accepted agent reports a risk score above this'),
  MIN_LLM_CONFIDENCE: num(0.7, 0, 1, 'an agent opinion counts only at or above this confidence'),
  COLLAB_SYMBOLS: symbolList(
    ['AVAXUSDT', 'ARBUSDT'],
    'symbols where both agents are asked in parallel and must agree before an entry',
  ),
});
export type ConsensusSettings = z.infer<typeof ConsensusSettings>;
