import { z } from 'zod';
import { num } from '../settings-kit.ts';

/** The liquidity model shared by the backtest/paper venue and the exchange simulator (liquidity.kernel.ts). */
export const LiquiditySettings = z.object({
  LIQUIDITY_LEVEL_SHARE: num(
    0.01,
    0,
    1,
    "modelled book depth: each price level holds this share of the last completed bar's traded volume; a taker order walks the levels (0 = unlimited depth, no market impact)",
  ),
  LIQUIDITY_LEVEL_BPS: num(
    1,
    0,
    1000,
    'modelled book: distance between consecutive price levels, in basis points of the touch price (market impact per level walked)',
  ),
  LIQUIDITY_QUEUE_SHARE: num(
    0.1,
    0,
    1,
    "resting limit orders (simulator): share of the bar's volume traded at or through the order's price that reaches it through the queue (0 = a touch fills the whole order)",
  ),
});
export type LiquiditySettings = z.infer<typeof LiquiditySettings>;

export const DEFAULT_LIQUIDITY: LiquiditySettings = LiquiditySettings.parse({});
