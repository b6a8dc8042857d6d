import { z } from 'zod';
import { int, num, positive, str } from '../../pipelines/settings-kit.ts';

export const PortfolioSettings = z.object({
  INITIAL_BALANCE: positive(10_000, 1e12, 'starting wallet balance in USDT (backtest and paper)'),
  LEVERAGE: int(5, 1, 125, 'exchange leverage per position: initial margin = notional / LEVERAGE'),
  LEVERAGE_BRACKETS_FILE: str(
    '',
    'leverage brackets (a saved GET /fapi/v1/leverageBracket reply) for maintenance margin and liquidation; empty = the shipped table (pipelines/margin)',
  ),
  LIQUIDATION_FEE: num(
    0.025,
    0,
    0.1,
    "fee on a liquidated position's notional, capped at the margin left (Aster exchangeInfo liquidationFee, 2026-01-12)",
  ),
});
export type PortfolioSettings = z.infer<typeof PortfolioSettings>;
