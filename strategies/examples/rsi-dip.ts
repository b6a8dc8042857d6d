import { defineStrategy, int, normaliseStrength, num, z } from '../kit/contract.ts';

/**
 * rsi-dip: buys a pullback in an uptrend and sells a bounce in a downtrend. The trend is the
 * close against its EMA(RSI_DIP_TREND_BARS); the pullback is RSI(RSI_DIP_RSI_BARS) at or beyond
 * RSI_DIP_RSI_EDGE from 50. Exits when RSI gets back to 50. Change the rule in onBar.
 */
export default defineStrategy({
  name: 'rsi-dip',
  settings: z.object({
    RSI_DIP_RSI_BARS: int(14, 2, 500, 'bars in the RSI that measures the pullback'),
    RSI_DIP_RSI_EDGE: num(20, 1, 49, 'how far from 50 the RSI must be (20: below 30 to buy, above 70 to sell)'),
    RSI_DIP_TREND_BARS: int(200, 2, 10_000, 'bars in the EMA that sets the trend'),
  }),
  searchSpace: {
    RSI_DIP_RSI_BARS: { type: 'int', low: 5, high: 50 },
    RSI_DIP_RSI_EDGE: { type: 'float', low: 5, high: 35 },
    RSI_DIP_TREND_BARS: { type: 'int', low: 50, high: 1000, log: true },
  },
  warmUpBars: (s) => Math.max(s.RSI_DIP_RSI_BARS + 1, s.RSI_DIP_TREND_BARS),
  // runs once per symbol and per run: keep all state in here, never at module level
  create(s, { indicators }) {
    const rsi = indicators.rsi(s.RSI_DIP_RSI_BARS);
    const trend = indicators.ema(s.RSI_DIP_TREND_BARS);
    const edge = s.RSI_DIP_RSI_EDGE;
    return {
      onBar(f) {
        const r = rsi.update(f.bar);
        const t = trend.update(f.bar);
        if (r === null || t === null) return null; // still warming up
        const strength = normaliseStrength((Math.abs(r - 50) - edge) / (50 - edge) + 0.5);
        if (f.bar.close > t && r <= 50 - edge) return { direction: 1, strength };
        if (f.bar.close < t && r >= 50 + edge) return { direction: -1, strength };
        return null; // no view: opens and closes nothing
      },
      shouldExit(_f, side) {
        const r = rsi.value;
        return r !== null && (side > 0 ? r >= 50 : r <= 50);
      },
    };
  },
});
