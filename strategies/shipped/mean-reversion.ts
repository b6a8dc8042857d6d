import { z } from 'zod';
import { int, num } from '../../pipelines/settings-kit.ts';
import { defineStrategy, normaliseStrength } from '../kit/contract.ts';

/**
 * Mean reversion: buys a close below the lower Bollinger band while RSI is oversold, sells one
 * above the upper band while RSI is overbought, and exits when the close gets back to the middle
 * band. Strength: how far beyond the band the close is, as a share of the band's width, plus ½.
 */
export default defineStrategy({
  name: 'mean-reversion',
  settings: z.object({
    MEAN_REVERSION_RSI_BARS: int(14, 2, 1000, 'bars in the RSI (Wilder) that confirms an extreme'),
    MEAN_REVERSION_OVERSOLD: num(30, 1, 49, 'RSI at or below which a close under the lower band is bought'),
    MEAN_REVERSION_OVERBOUGHT: num(70, 51, 99, 'RSI at or above which a close over the upper band is sold'),
    MEAN_REVERSION_BAND_BARS: int(20, 2, 5000, 'bars in the Bollinger bands’ moving average and deviation'),
    MEAN_REVERSION_BAND_WIDTH: num(2, 0.5, 5, 'Bollinger band half-width in standard deviations'),
  }),
  searchSpace: {
    MEAN_REVERSION_RSI_BARS: { type: 'int', low: 5, high: 50 },
    MEAN_REVERSION_OVERSOLD: { type: 'float', low: 10, high: 45 },
    MEAN_REVERSION_OVERBOUGHT: { type: 'float', low: 55, high: 90 },
    MEAN_REVERSION_BAND_BARS: { type: 'int', low: 10, high: 200, log: true },
    MEAN_REVERSION_BAND_WIDTH: { type: 'float', low: 1, high: 3.5 },
  },
  warmUpBars: (s) => Math.max(s.MEAN_REVERSION_RSI_BARS + 1, s.MEAN_REVERSION_BAND_BARS),
  create(s, { indicators }) {
    const rsi = indicators.rsi(s.MEAN_REVERSION_RSI_BARS);
    const bands = indicators.bollinger(s.MEAN_REVERSION_BAND_BARS, s.MEAN_REVERSION_BAND_WIDTH);
    return {
      onBar(f) {
        const r = rsi.update(f.bar);
        const b = bands.update(f.bar);
        if (r === null || b === null) return null;
        const width = b.upper - b.lower;
        if (!(width > 0)) return null;
        const close = f.bar.close;
        if (close < b.lower && r <= s.MEAN_REVERSION_OVERSOLD)
          return { direction: 1, strength: normaliseStrength(0.5 + (b.lower - close) / width) };
        if (close > b.upper && r >= s.MEAN_REVERSION_OVERBOUGHT)
          return { direction: -1, strength: normaliseStrength(0.5 + (close - b.upper) / width) };
        return null;
      },
      shouldExit(f, side) {
        const middle = bands.value?.middle;
        if (middle === undefined) return false;
        return side > 0 ? f.bar.close >= middle : f.bar.close <= middle;
      },
    };
  },
});
