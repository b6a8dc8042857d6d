import { z } from 'zod';
import type { SearchSpace } from '../pipelines/search-space.ts';
import { SHIPPED_STRATEGIES } from './shipped/index.ts';
import momentum from './shipped/momentum.ts';
import meanReversion from './shipped/mean-reversion.ts';
import breakout from './shipped/breakout.ts';
import trend from './shipped/trend.ts';
import fundingRate from './shipped/funding-rate.ts';

function toEntries(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A shipped strategy's name (kebab-case) or the path of a strategy file (ends in .ts). */
const strategyEntry = z
  .string()
  .regex(
    /^([a-z][a-z0-9-]*|.+\.[cm]?ts)$/,
    'a shipped strategy name (e.g. momentum) or a strategy file path ending in .ts',
  );

export const StrategySelectionSettings = z.object({
  STRATEGIES: z
    .preprocess(toEntries, z.array(strategyEntry).min(1, 'at least one strategy'))
    .default(['momentum'])
    .describe(
      'strategies that run in one pipeline, in order: shipped names (momentum, mean-reversion, breakout, trend, funding-rate) or strategy file paths; see docs/strategies.md for the netting rule',
    ),
});

/** Every shipped strategy's settings, composed into the root schema (keys are prefixed per strategy). */
export const ShippedStrategySettings = z.object({
  ...momentum.settings.shape,
  ...meanReversion.settings.shape,
  ...breakout.settings.shape,
  ...trend.settings.shape,
  ...fundingRate.settings.shape,
});

export const shippedSearchSpace: SearchSpace = Object.assign({}, ...SHIPPED_STRATEGIES.map((s) => s.searchSpace));
