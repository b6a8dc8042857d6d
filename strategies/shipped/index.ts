import type { Strategy } from '../kit/contract.ts';
import momentum from './momentum.ts';
import meanReversion from './mean-reversion.ts';
import breakout from './breakout.ts';
import trend from './trend.ts';
import fundingRate from './funding-rate.ts';

/** The strategies that ship with Sapphire, by name (STRATEGIES=momentum,breakout picks from these). */
export const SHIPPED_STRATEGIES: readonly Strategy[] = [momentum, meanReversion, breakout, trend, fundingRate];
