import { describe, expect, it } from 'vitest';
import type { BacktestResult } from '../../backtests/run-backtest.ts';
import { decimal, tradesCsv } from '../../backtests/report/write-results.ts';
import type { TradeClosed } from '../../pipelines/model/index.ts';

const noisy = {
  symbol: 'BTCUSDT',
  side: 'LONG',
  quantity: 0.1 + 0.2, // 0.30000000000000004
  openedAt: Date.UTC(2025, 0, 1),
  entryPrice: 94_123.1 + 0.2, // 94123.30000000000291
  time: Date.UTC(2025, 0, 2),
  exitPrice: 95_000.4,
  pnl: 179.82402800000003,
  fees: 19.8 * 1.1, // 21.780000000000005
  funding: -0,
  netPnl: 179.82402800000003 - 21.780000000000005, // 158.04402800000002
  returnPct: 0.0056 - 1e-17,
  exitReason: 'take-profit',
  explored: false,
} as unknown as TradeClosed;

describe('trades.csv', () => {
  it("writes prices and quantities at the instrument's precision and money without float noise", () => {
    const result = { symbols: ['BTCUSDT'], trades: [noisy], openTrades: [] } as unknown as BacktestResult;
    const csv = tradesCsv(result, new Map([['BTCUSDT', { pricePrecision: 1, quantityPrecision: 3 }]]));
    const row = csv.trim().split('\n')[1]!;
    expect(row).toBe(
      'BTCUSDT,LONG,0.3,2025-01-01T00:00:00.000Z,94123.3,2025-01-02T00:00:00.000Z,95000.4,179.824028,21.78,0,158.044028,0.56,take-profit,closed,false',
    );
    expect(csv).not.toMatch(/\d\.\d{9,}/);
  });

  it('uses the bundled exchange filters by default', () => {
    const result = { symbols: ['BTCUSDT'], trades: [noisy], openTrades: [] } as unknown as BacktestResult;
    expect(tradesCsv(result).split('\n')[1]).toContain(',0.3,');
  });

  it('rounds half away from float noise and never prints -0', () => {
    expect(decimal(-0.000000001, 8)).toBe('0');
    expect(decimal(1.5, 0)).toBe('2');
    expect(decimal(12.34, 4)).toBe('12.34');
    expect(decimal(100, 2)).toBe('100');
  });
});
