import type { OperatorFunction } from 'rxjs';
import { NONE, type PipelineEvent, type Signal } from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { momentumDirection } from './momentum.kernel.ts';
import type { MomentumSettings } from './momentum.settings.ts';

export const MOMENTUM_SOURCE = 'momentum';

/**
 * Momentum over the lookback window.
 * Emits: every input unchanged; after each FeatureBar with a non-flat direction, a Signal.
 * A flat reading emits nothing: it neither opens nor closes positions (stops manage exits).
 */
export function momentum(s: MomentumSettings): OperatorFunction<PipelineEvent, PipelineEvent> {
  const threshold = s.MOMENTUM_THRESHOLD;
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => ({
    next(e) {
      emit(e);
      if (e.kind !== 'features') return;
      const direction = momentumDirection(e.lookbackReturn, threshold);
      if (direction === 0) return;
      const signal: Signal = {
        kind: 'signal',
        time: e.time,
        symbol: e.symbol,
        source: MOMENTUM_SOURCE,
        direction,
        strength: e.lookbackReturn,
        price: e.bar.close,
        features: e,
        opinions: NONE,
      };
      emit(signal);
    },
  }));
}
