import { z } from 'zod';
import { int, num, positive } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const RiskSettings = z.object({
  MAX_POSITION_RISK: positive(
    0.1,
    1,
    'largest loss at the initial stop one position may carry, as a fraction of equity',
  ),
  MAX_PORTFOLIO_LEVERAGE: positive(2.0, 50, 'cap on total open notional as a multiple of equity'),
  MAX_CONCURRENT_POSITIONS: int(6, 1, 200, 'most positions open at once'),
  MAX_DRAWDOWN: positive(0.2, 1, 'drawdown from peak equity at which trading is HALTED (exits only)'),
  MAX_SLIPPAGE_BPS: num(
    25,
    0,
    10_000,
    'worst fill accepted vs the decision price, in basis points; orders beyond are refused',
  ),
  VOLATILITY_DELEVER_THRESHOLD: positive(
    1.5,
    50,
    'annualised realised volatility above which a symbol is delevered (REDUCING): positions cut, new sizes scaled',
  ),
  AUTO_DELEVER_FACTOR: num(0.5, 0, 1, 'share of a position kept when delevering, and the scale on new sizes'),
  COOLDOWN_BARS: int(12, 0, 100_000, 'bars a symbol rests after a stop-out before a new entry'),
  STOPLOSS_GUARD_TRADES: int(3, 0, 1000, 'stop-outs within the window that lock all new entries (0 = off)'),
  STOPLOSS_GUARD_WINDOW_BARS: int(288, 1, 100_000, 'window of the stop-loss guard, in bars'),
  STOPLOSS_GUARD_LOCK_BARS: int(144, 1, 100_000, 'how long the stop-loss guard locks entries, in bars'),
});
export type RiskSettings = z.infer<typeof RiskSettings>;

export const riskSearchSpace: SearchSpace = {
  VOLATILITY_DELEVER_THRESHOLD: { type: 'float', low: 0.3, high: 5, log: true },
  AUTO_DELEVER_FACTOR: { type: 'float', low: 0.1, high: 0.9 },
  COOLDOWN_BARS: { type: 'int', low: 0, high: 288 },
};
