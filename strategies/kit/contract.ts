import type { z } from 'zod';

// a strategy file needs only this module: zod and the settings builders come through it
export { z } from 'zod';
export { bool, int, num, positive } from '../../pipelines/settings-kit.ts';
import type { FeatureBar } from '../../pipelines/model/index.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';
import type { IndicatorKit } from './indicators.ts';

/** What a strategy wants on a bar: a side and how strongly, normalised to 0..1. */
export interface SignalWish {
  readonly direction: 1 | -1;
  /** 0 = barely, 1 = as strong as this strategy gets; consensus uses it as the confidence */
  readonly strength: number;
}

/** What a strategy instance can read besides the bar: its symbol, indicators and the funding history. */
export interface StrategyContext {
  readonly symbol: string;
  /** streaming indicators, created for this symbol and this subscription only */
  readonly indicators: IndicatorKit;
  /**
   * the last funding rate published at or before `time` for this symbol (per 8 h, as a fraction),
   * NaN when the run has no funding history for it. Never a later one: no look-ahead.
   */
  fundingRate(time: number): number;
}

/**
 * One strategy for one symbol in one run. It sees closed bars (with the platform's features) in
 * time order and nothing else: no clock, no mode, no other symbol's state.
 */
export interface StrategyInstance {
  /** a wish to hold a side, or null for no view (which neither opens nor closes anything) */
  onBar(f: FeatureBar): SignalWish | null;
  /**
   * optional exit rule, asked while a position this strategy opened is held (after onBar on the
   * same bar): true closes it. Stops, sizing, risk and execution stay the platform's.
   */
  shouldExit?(f: FeatureBar, side: 1 | -1): boolean;
}

/**
 * A strategy: one TypeScript file whose default export is `defineStrategy({...})`.
 * `Schema` is a zod object whose keys are env-style names prefixed by the strategy
 * (BREAKOUT_CHANNEL_BARS), each with a default and a rule, so two strategies never collide.
 */
export interface Strategy<Schema extends z.ZodObject = z.ZodObject> {
  /** kebab-case, unique: the signal source, the bandit arm's name, the report's row */
  readonly name: string;
  readonly settings: Schema;
  /** tunable parameters, keyed by the settings' names */
  readonly searchSpace: SearchSpace;
  /** bars (after the platform's feature warm-up) before onBar can give a wish */
  warmUpBars(settings: z.infer<Schema>): number;
  /** a fresh instance per symbol and per subscription: all state lives in it */
  create(settings: z.infer<Schema>, ctx: StrategyContext): StrategyInstance;
}

/** Declares a strategy (identity at run time; it gives the settings their types in the file). */
export function defineStrategy<Schema extends z.ZodObject>(strategy: Strategy<Schema>): Strategy<Schema> {
  return strategy;
}

/** A strategy with its settings parsed: what the pipeline runs. */
export interface LoadedStrategy {
  readonly strategy: Strategy;
  readonly settings: Readonly<Record<string, unknown>>;
  /** where it came from: `shipped` or the file path, for error messages */
  readonly origin: string;
}

/** Clamps a raw ratio into a 0..1 strength (NaN → 0). */
export function normaliseStrength(x: number): number {
  return x > 0 ? Math.min(1, x) : 0;
}
