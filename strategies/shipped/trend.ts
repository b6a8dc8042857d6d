import { z } from 'zod';
import { int, num } from '../../pipelines/settings-kit.ts';
import { defineStrategy, normaliseStrength } from '../kit/contract.ts';

/**
 * Trend: long while the fast EMA is above the slow one by more than TREND_MIN_GAP %, short
 * while it is below by as much; inside the gap there is no view. The opposite crossing closes a
 * position (consensus exits on a signal against it). Strength: the gap as a multiple of the
 * minimum, halved.
 */
export default defineStrategy({
  name: 'trend',
  settings: z.object({
    TREND_FAST_BARS: int(48, 2, 10_000, 'bars in the fast EMA'),
    TREND_SLOW_BARS: int(192, 3, 50_000, 'bars in the slow EMA (must be longer than the fast one)'),
    TREND_MIN_GAP: num(0.1, 0, 20, 'percent: the EMAs must be this far apart for a view'),
  }),
  searchSpace: {
    TREND_FAST_BARS: { type: 'int', low: 6, high: 144, log: true },
    TREND_SLOW_BARS: { type: 'int', low: 150, high: 2000, log: true },
    TREND_MIN_GAP: { type: 'float', low: 0, high: 1 },
  },
  warmUpBars: (s) => Math.max(s.TREND_FAST_BARS, s.TREND_SLOW_BARS),
  create(s, { indicators }) {
    if (s.TREND_FAST_BARS >= s.TREND_SLOW_BARS)
      throw new RangeError(`TREND_FAST_BARS ${s.TREND_FAST_BARS} must be below TREND_SLOW_BARS ${s.TREND_SLOW_BARS}`);
    const fast = indicators.ema(s.TREND_FAST_BARS);
    const slow = indicators.ema(s.TREND_SLOW_BARS);
    const minGap = s.TREND_MIN_GAP / 100;
    return {
      onBar(f) {
        const a = fast.update(f.bar);
        const b = slow.update(f.bar);
        if (a === null || b === null || !(b > 0)) return null;
        const gap = a / b - 1;
        const strength = minGap > 0 ? normaliseStrength(Math.abs(gap) / minGap / 2) : 1;
        if (gap > minGap) return { direction: 1, strength };
        if (gap < -minGap) return { direction: -1, strength };
        return null;
      },
    };
  },
});
