import { z } from 'zod';
import { num, positive } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const BanditSettings = z.object({
  BANDIT_EPSILON: num(0.1, 0, 1, 'probability of exploring: trading an arm whose average realised return is negative'),
  BANDIT_REWARD_CLIP: positive(0.1, 1, 'a closed trade’s return is clipped to ±this before it updates its arm'),
});
export type BanditSettings = z.infer<typeof BanditSettings>;

export const banditSearchSpace: SearchSpace = {
  BANDIT_EPSILON: { type: 'float', low: 0, high: 0.5 },
};
