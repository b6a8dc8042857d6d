import { z } from 'zod';
import { int, num, str } from '../pipelines/settings-kit.ts';

export const BacktestSettings = z.object({
  TAKER_FEE: num(0.00035, 0, 0.01, 'taker fee as a fraction of notional (Aster default 0.035 %)'),
  SLIPPAGE_BPS: num(2, 0, 1000, 'simulated slippage of market fills against the bar price, in basis points'),
  LATENCY_MS: int(0, 0, 86_400_000, 'simulated delay from decision to order arrival; fills at the first bar after it'),
  FUNDING_RATE: num(0.0001, -0.01, 0.01, 'funding rate per 8 h when no funding CSV is given (longs pay when positive)'),
  FUNDING_CSV: str(
    'data/sample/funding/BTC-ETH-SOL-USDT-funding-2025-10-22_2026-02-19.csv',
    'funding-rate history used by `sapphire backtest` when --funding is not given (real Binance rates of the sample, see its PROVENANCE.md); symbols or times it lacks pay FUNDING_RATE; empty = FUNDING_RATE only',
  ),
  SEED: int(42, 0, 2 ** 31 - 1, 'seed of every random choice (bandit exploration, simulated faults, samplers)'),
  DATA_DIR: str('data/sample/perp-5m', 'folder of bar files read by backtests and tuning'),
});
export type BacktestSettings = z.infer<typeof BacktestSettings>;
