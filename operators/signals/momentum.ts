import type { OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import momentumStrategy from '../../strategies/shipped/momentum.ts';
import { strategySignals, type StrategySignalSettings } from './strategy-signals.ts';
import type { MomentumSettings } from './momentum.settings.ts';

export const MOMENTUM_SOURCE = momentumStrategy.name;

/**
 * The momentum strategy alone (strategies/shipped/momentum.ts) as a signal operator: what
 * STRATEGIES=momentum runs. Emits: every input unchanged; after each FeatureBar with a view, a
 * Signal whose strength is normalised to 0..1.
 */
export function momentum(s: MomentumSettings & StrategySignalSettings): OperatorFunction<PipelineEvent, PipelineEvent> {
  return strategySignals(
    [{ strategy: momentumStrategy, settings: { MOMENTUM_THRESHOLD: s.MOMENTUM_THRESHOLD }, origin: 'shipped' }],
    s,
  );
}
