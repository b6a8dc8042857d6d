import { describe, expect, it } from 'vitest';
import type { Order } from '../../../pipelines/model/index.ts';
import { runBacktest } from '../../../backtests/run-backtest.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import { testService } from '../../kit/service-kit.ts';

describe('live runner vs backtest', () => {
  it('the same recorded bars through the live engine (one at a time, journaled) and through a backtest give the same orders', async () => {
    const service = await testService({ warm: 0 });
    await service.feed(service.live.length);
    const live = service.sent.filter((e): e is Order => e.kind === 'order');
    const backtest = runBacktest({
      settings: service.settings,
      series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
      keepEvents: true,
    }).events!.filter((e): e is Order => e.kind === 'order');
    expect(live.length).toBeGreaterThan(10);
    expect(live).toEqual(backtest);
    await service.close();
  });

  it('with two strategies at once (momentum and breakout) the live engine and the backtest give the same orders', async () => {
    const service = await testService({
      warm: 0,
      settings: { STRATEGIES: 'breakout,momentum', BREAKOUT_CHANNEL_BARS: 24, BREAKOUT_ATR_MARGIN: 0 },
    });
    await service.feed(service.live.length);
    const live = service.sent.filter((e): e is Order => e.kind === 'order');
    const result = runBacktest({
      settings: service.settings,
      series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
      keepEvents: true,
    });
    const backtest = result.events!.filter((e): e is Order => e.kind === 'order');
    expect(live.length).toBeGreaterThan(10);
    expect(live).toEqual(backtest);
    // both strategies traded: the parity covers the netting of two sources
    expect(
      result.strategies
        .filter((s) => s.trades > 0)
        .map((s) => s.strategy)
        .sort(),
    ).toEqual(['breakout', 'momentum']);
    await service.close();
  });
});
