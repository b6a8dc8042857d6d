import { z } from 'zod';
import { int, str } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const FeatureSettings = z.object({
  BAR_INTERVAL: str('5m', 'candle interval the strategy trades on (Binance notation: 1m, 5m, 1h …)', {
    regex: /^\d+[smhdw]$/,
    rule: 'an interval such as 1m, 5m, 1h',
  }),
  ATR_PERIOD: int(14, 2, 1000, 'bars in the Wilder ATR that sets stop distances and ATR sizing'),
  MOMENTUM_LOOKBACK_BARS: int(288, 1, 100_000, 'bars over which momentum return is measured (288 × 5m = 24 h)'),
  VOLATILITY_WINDOW_BARS: int(
    288,
    2,
    100_000,
    'bars of log returns in the realised-volatility estimate used by auto-delever',
  ),
  MAX_GAP_BARS: int(
    0,
    0,
    1_000_000,
    'missing bars beyond which a data gap is a hole: backtests refuse it (unless --allow-gaps) and indicators warm up again after it; 0 = one day of bars',
  ),
});
export type FeatureSettings = z.infer<typeof FeatureSettings>;

export const featureSearchSpace: SearchSpace = {
  ATR_PERIOD: { type: 'int', low: 5, high: 50 },
  MOMENTUM_LOOKBACK_BARS: { type: 'int', low: 12, high: 864, log: true },
};
