import { describe, expect, it } from 'vitest';
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { computeMetrics, drawdownStats, formatMetricsTable } from '../../backtests/report/metrics.ts';
import { resultJson } from '../../backtests/report/write-results.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';

const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];

describe('runBacktest over real bars', () => {
  const settings = activeSettings();
  const result = runBacktest({ settings, series, keepEvents: true });

  it('trades, and its metrics agree with the trades and the equity curve it reports', () => {
    expect(result.trades.length).toBeGreaterThan(5);
    const m = result.metrics;
    expect(m.trades).toBe(result.trades.length);
    const finalEquity = result.equity.at(-1)!.equity;
    expect(m.netProfit).toBeCloseTo(finalEquity - settings.INITIAL_BALANCE, 9);
    // realised trades + fees/funding on open positions explain the balance (accounting identity)
    const net = result.trades.reduce((s, t) => s + t.netPnl, 0);
    const final = result.final!;
    if (final.positions.length === 0) expect(final.balance - settings.INITIAL_BALANCE).toBeCloseTo(net, 6);
    expect(m.winRate).toBeCloseTo(result.trades.filter((t) => t.netPnl > 0).length / result.trades.length, 12);
    expect(m.feesPaid).toBe(final.feesPaid);
    const reasons = m.exitReasons.reduce((s, g) => s + g.trades, 0);
    expect(reasons).toBe(result.trades.length);
    expect(m.perSymbol.map((s) => s.key)).toEqual(['BTCUSDT', 'ETHUSDT']);
    // one equity point per time step of the merged market
    expect(result.equity.length).toBe(series[0]!.length);
  });

  it('counts every order, fill and denial the pipeline emitted', () => {
    const events = result.events!;
    expect(result.counts.orders).toBe(events.filter((e) => e.kind === 'order').length);
    expect(result.counts.fills).toBe(events.filter((e) => e.kind === 'fill').length);
    const denials = events.filter((e) => e.kind === 'denied').length;
    expect(Object.values(result.denials).reduce((a, b) => a + b, 0)).toBe(denials);
    // by stage:rule, keyed in the order each first occurred (the report lists them so)
    const byRule: Record<string, number> = {};
    for (const e of events)
      if (e.kind === 'denied') byRule[`${e.stage}:${e.rule}`] = (byRule[`${e.stage}:${e.rule}`] ?? 0) + 1;
    expect(Object.keys(byRule).length).toBeGreaterThan(1);
    expect(Object.entries(result.denials)).toEqual(Object.entries(byRule));
  });

  it('respects a [from, to) window: no bar, decision or trade outside it', () => {
    const from = Date.parse('2025-01-29T00:00:00Z');
    const to = Date.parse('2025-01-31T00:00:00Z');
    const windowed = runBacktest({ settings, series, from, to, keepDecisions: true });
    expect(windowed.decisions.length).toBe(windowed.counts.decisions);
    expect(windowed.decisions.length).toBeGreaterThan(0);
    expect(windowed.start).toBe(from);
    expect(windowed.end).toBe(to);
    expect(windowed.bars).toBe(2 * 576);
    for (const d of windowed.decisions) expect(d.time).toBeGreaterThan(from);
    for (const t of windowed.trades) expect(t.openedAt).toBeGreaterThanOrEqual(from);
  });

  it('is deterministic: the same inputs give the same JSON, byte for byte', () => {
    const again = runBacktest({ settings, series });
    const meta = { dataDir: 'fixtures', settings };
    expect(resultJson(again, meta)).toBe(resultJson(result, meta));
  });

  it('refuses data whose interval is not BAR_INTERVAL, naming both', () => {
    expect(() => runBacktest({ settings: activeSettings({ BAR_INTERVAL: '1m' }), series })).toThrow(
      'BAR_INTERVAL=1m but BTCUSDT data has 5m bars',
    );
  });
});

describe('metrics', () => {
  it('measures drawdown depth and duration from the peak', () => {
    const curve = [100, 110, 99, 105, 120, 90, 95].map((equity, i) => ({ time: i * 1000, equity }));
    const { maxDrawdown, maxDurationMs } = drawdownStats(curve);
    expect(maxDrawdown).toBeCloseTo(0.25, 12);
    expect(maxDurationMs).toBe(2000);
  });

  it('annualises per-bar Sharpe and Sortino for short runs, from the equity returns', () => {
    const values = [100, 101, 100.5, 102, 101, 103, 102.5, 104];
    const equity = values.map((e, i) => ({ time: i * 300_000, equity: e }));
    const m = computeMetrics({
      equity,
      trades: [],
      initialBalance: 100,
      feesPaid: 0,
      fundingPaid: 0,
      barIntervalMs: 300_000,
      exposedBars: 4,
      prices: { BTCUSDT: { first: 10, last: 12 } },
    });
    const r = values.slice(1).map((v, i) => v / values[i]! - 1);
    const perYear = (365 * 86_400_000) / 300_000;
    expect(m.sharpe).toBeCloseTo((mean(r) / sampleStandardDeviation(r)) * Math.sqrt(perYear), 9);
    const downside = Math.sqrt(mean(r.map((x) => Math.min(x, 0) ** 2)));
    expect(m.sortino).toBeCloseTo((mean(r) / downside) * Math.sqrt(perYear), 9);
    expect(m.totalReturnPct).toBeCloseTo(4, 12);
    expect(m.exposurePct).toBe(50);
    expect(m.buyAndHoldPct).toBeCloseTo(20, 12);
    expect(m.trades).toBe(0);
    expect(formatMetricsTable(m)).toContain('Sharpe');
  });
});
