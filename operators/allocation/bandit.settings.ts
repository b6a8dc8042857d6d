import { z } from 'zod';
import { int, num, oneOf, positive } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const BanditSettings = z.object({
  BANDIT_POLICY: oneOf(
    ['epsilon-greedy', 'ucb1', 'thompson'],
    'epsilon-greedy',
    'how arms (strategy × symbol) share capital: epsilon-greedy funds arms that do not lose and probes losing ones with probability BANDIT_EPSILON; ucb1 and thompson give each judged arm a share of its normal size from a softmax of its UCB1 index or Thompson sample',
  ),
  BANDIT_EPSILON: num(
    0.02,
    0,
    1,
    'probability that a signal episode explores: an arm whose mean realised return is negative is traded anyway (as a probe)',
  ),
  BANDIT_REWARD_CLIP: positive(0.1, 1, 'a closed trade’s return is clipped to ±this before it updates its arm'),
  BANDIT_MIN_TRADES: int(
    30,
    0,
    100_000,
    'closed trades an arm needs before its mean is judged; until then every entry is funded',
  ),
  BANDIT_WINDOW_TRADES: int(
    100,
    1,
    100_000,
    'an arm’s mean realised return is taken over this many most recent trades',
  ),
  BANDIT_PROBE_SHARE: num(
    0.25,
    0,
    1,
    'size of an exploration as a share of the normal size (at least the exchange minimum; 0 = the minimum)',
  ),
});
export type BanditSettings = z.infer<typeof BanditSettings>;

export const banditSearchSpace: SearchSpace = {
  BANDIT_EPSILON: { type: 'float', low: 0, high: 0.5 },
};
