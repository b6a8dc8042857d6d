import { z } from 'zod';
import { int, num, oneOf, positive } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const SizingSettings = z.object({
  SIZING_MODE: oneOf(
    ['kelly', 'fixed', 'atr'],
    'kelly',
    'kelly: fractional Kelly notional; fixed: NOTIONAL_FRACTION of equity; atr: risk RISK_PER_TRADE of equity to the ATR stop',
  ),
  KELLY_FRACTION: positive(0.5, 1, 'multiplier on the full Kelly fraction (0.5 = half Kelly)'),
  KELLY_FRACTION_CAP: positive(0.5, 1, 'largest notional fraction of equity Kelly sizing may ask for'),
  KELLY_PRIOR_TRADES: int(
    20,
    0,
    10_000,
    'weight, in trades, of the EXPECTED_WIN_RATE/REWARD_TO_RISK prior in the Kelly estimate',
  ),
  KELLY_WINDOW_TRADES: int(100, 5, 100_000, 'Kelly win rate and payoff are measured over this many most recent trades'),
  NOTIONAL_FRACTION: positive(0.05, 1, 'fixed mode: position notional as a fraction of equity'),
  EXPECTED_WIN_RATE: num(0.55, 0.01, 0.99, 'prior win rate p used until enough trades have closed'),
  REWARD_TO_RISK: positive(2.0, 20, 'prior payoff ratio b, and the take-profit distance in stop distances'),
  RISK_PER_TRADE: positive(0.01, 0.2, 'atr mode: fraction of equity lost if the initial stop is hit'),
});
export type SizingSettings = z.infer<typeof SizingSettings>;

export const sizingSearchSpace: SearchSpace = {
  NOTIONAL_FRACTION: { type: 'float', low: 0.01, high: 0.3, log: true },
  KELLY_FRACTION: { type: 'float', low: 0.1, high: 1 },
  REWARD_TO_RISK: { type: 'float', low: 0.8, high: 5 },
  RISK_PER_TRADE: { type: 'float', low: 0.002, high: 0.05, log: true },
};
