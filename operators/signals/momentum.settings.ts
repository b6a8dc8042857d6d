import { z } from 'zod';
import { num } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const MomentumSettings = z.object({
  MOMENTUM_THRESHOLD: num(0.35, 0, 50, 'percent: long when the lookback return is above it, short when below minus it'),
});
export type MomentumSettings = z.infer<typeof MomentumSettings>;

export const momentumSearchSpace: SearchSpace = {
  MOMENTUM_THRESHOLD: { type: 'float', low: 0.05, high: 5, log: true },
};
