import type { z } from 'zod';
import momentumStrategy from '../../strategies/shipped/momentum.ts';

/** Momentum's settings and search space now live with the strategy (strategies/shipped/momentum.ts). */
export const MomentumSettings = momentumStrategy.settings;
export type MomentumSettings = z.infer<typeof MomentumSettings>;
export const momentumSearchSpace = momentumStrategy.searchSpace;
