import { z } from 'zod';
import { num } from '../../pipelines/settings-kit.ts';
import { defineStrategy, normaliseStrength } from '../kit/contract.ts';

/**
 * Momentum: long when the return over MOMENTUM_LOOKBACK_BARS (a platform feature) is above
 * +MOMENTUM_THRESHOLD %, short below −MOMENTUM_THRESHOLD %, no view in between (a flat reading
 * neither opens nor closes anything: stops manage the exits). Strength: the return as a multiple
 * of the threshold, halved, so twice the threshold and beyond is full strength.
 */
export default defineStrategy({
  name: 'momentum',
  settings: z.object({
    MOMENTUM_THRESHOLD: num(
      0.35,
      0,
      50,
      'percent: long when the lookback return is above it, short when below minus it',
    ),
  }),
  searchSpace: {
    MOMENTUM_THRESHOLD: { type: 'float', low: 0.05, high: 5, log: true },
  },
  warmUpBars: () => 0,
  create(s) {
    const t = s.MOMENTUM_THRESHOLD / 100;
    return {
      onBar(f) {
        const r = f.lookbackReturn;
        if (r > t) return { direction: 1, strength: t > 0 ? normaliseStrength(r / t / 2) : 1 };
        if (r < -t) return { direction: -1, strength: t > 0 ? normaliseStrength(-r / t / 2) : 1 };
        return null;
      },
    };
  },
});
