import { describe, expect, it } from 'vitest';
import strategy from '../../../strategies/examples/rsi-dip.ts';
import { checkStrategyContract } from '../../../strategies/kit/testing.ts';
import { runBacktest } from '../../../backtests/run-backtest.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import { settingsFor } from '../kit.ts';

describe('strategy rsi-dip (the tutorial’s, docs/strategies.md)', () => {
  it('keeps the strategy contract on real bars: same output twice, isolated, warm-up, no look-ahead', async () => {
    const report = await checkStrategyContract(strategy);
    expect(report.problems).toEqual([]);
    expect(report.signals).toBeGreaterThan(0);
  });

  it('backtests on real bars, its trades reported under its name', () => {
    const settings = settingsFor('momentum');
    const result = runBacktest({
      settings,
      series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
      strategies: [
        {
          strategy,
          settings: strategy.settings.parse({ RSI_DIP_TREND_BARS: 50, RSI_DIP_RSI_EDGE: 10 }),
          origin: 'strategies/examples/rsi-dip.ts',
        },
      ],
    });
    const row = result.strategies.find((s) => s.strategy === 'rsi-dip');
    expect(row?.trades).toBeGreaterThan(0);
    expect(result.strategies.reduce((n, s) => n + s.trades, 0)).toBe(result.trades.length);
  });
});
