import { z } from 'zod';
import { int, positive } from '../../pipelines/settings-kit.ts';

export const PortfolioSettings = z.object({
  INITIAL_BALANCE: positive(10_000, 1e12, 'starting wallet balance in USDT (backtest and paper)'),
  LEVERAGE: int(5, 1, 125, 'exchange leverage per position: initial margin = notional / LEVERAGE'),
});
export type PortfolioSettings = z.infer<typeof PortfolioSettings>;
