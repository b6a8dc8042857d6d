import { z } from 'zod';
import { int, num } from '../../pipelines/settings-kit.ts';
import { defineStrategy, normaliseStrength } from '../kit/contract.ts';

/**
 * Breakout: long when the close clears the highest high of the previous BREAKOUT_CHANNEL_BARS
 * bars (a Donchian channel) by at least BREAKOUT_ATR_MARGIN × ATR, short when it breaks the
 * lowest low by as much; the ATR margin filters out breaks that are only noise. Exits when the
 * close falls back through the channel's middle. Strength: the break in ATRs, plus ½.
 */
export default defineStrategy({
  name: 'breakout',
  settings: z.object({
    BREAKOUT_CHANNEL_BARS: int(96, 2, 10_000, 'bars in the Donchian channel a close must break out of'),
    BREAKOUT_ATR_BARS: int(14, 2, 1000, 'bars in the ATR that sizes the breakout margin'),
    BREAKOUT_ATR_MARGIN: num(0.25, 0, 10, 'how far beyond the channel, in ATRs, a close must be to count'),
  }),
  searchSpace: {
    BREAKOUT_CHANNEL_BARS: { type: 'int', low: 12, high: 864, log: true },
    BREAKOUT_ATR_BARS: { type: 'int', low: 5, high: 50 },
    BREAKOUT_ATR_MARGIN: { type: 'float', low: 0, high: 2 },
  },
  warmUpBars: (s) => Math.max(s.BREAKOUT_CHANNEL_BARS + 1, s.BREAKOUT_ATR_BARS + 1),
  create(s, { indicators }) {
    const channel = indicators.donchian(s.BREAKOUT_CHANNEL_BARS);
    const atr = indicators.atr(s.BREAKOUT_ATR_BARS);
    let previous: { upper: number; middle: number; lower: number } | null = null;
    return {
      onBar(f) {
        // the channel of the bars BEFORE this one: a bar cannot break out of a range it sets
        const prior = previous;
        previous = channel.update(f.bar);
        const a = atr.update(f.bar);
        if (prior === null || a === null || !(a > 0)) return null;
        const close = f.bar.close;
        const up = (close - prior.upper) / a;
        if (up >= s.BREAKOUT_ATR_MARGIN && close > prior.upper)
          return { direction: 1, strength: normaliseStrength(0.5 + up / 2) };
        const down = (prior.lower - close) / a;
        if (down >= s.BREAKOUT_ATR_MARGIN && close < prior.lower)
          return { direction: -1, strength: normaliseStrength(0.5 + down / 2) };
        return null;
      },
      shouldExit(f, side) {
        if (previous === null) return false;
        return side > 0 ? f.bar.close < previous.middle : f.bar.close > previous.middle;
      },
    };
  },
});
