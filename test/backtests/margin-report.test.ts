import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { formatMetricsTable } from '../../backtests/report/metrics.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';
import type { PortfolioSnapshot } from '../../pipelines/model/index.ts';

describe('the report gives margin peaks and liquidations', () => {
  const settings = activeSettings({ NOTIONAL_FRACTION: 0.5 });
  const r = runBacktest({ settings, series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')], keepEvents: true });
  const snaps = r.events!.filter((e): e is PortfolioSnapshot => e.kind === 'portfolio');

  it('maintenance margin in every snapshot is the bracket formula over its positions', () => {
    const table = leverageBrackets();
    let checked = 0;
    for (const s of snaps) {
      let mm = 0;
      for (const p of s.positions) {
        const n = Math.abs(p.quantity) * p.markPrice;
        const b = table.get(p.symbol)!.find((x) => n < x.notionalCap)!;
        mm += n * b.maintMarginRatio - b.cum;
      }
      expect(s.maintenanceMargin).toBeCloseTo(mm, 9);
      if (s.positions.length > 0) checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('max gross leverage, margin usage and maintenance are the peaks over the snapshots', () => {
    const m = r.metrics;
    const peak = (f: (s: PortfolioSnapshot) => number) => Math.max(...snaps.map(f));
    expect(m.maxGrossLeverage).toBeCloseTo(
      peak((s) => s.grossExposure / s.equity),
      12,
    );
    expect(m.maxMarginUsagePct).toBeCloseTo(peak((s) => s.marginUsed / s.equity) * 100, 10);
    expect(m.maxMaintenanceMarginPct).toBeCloseTo(peak((s) => s.maintenanceMargin / s.equity) * 100, 10);
    expect(m.maxGrossLeverage).toBeGreaterThan(0.4);
    expect(m.liquidations).toBe(r.trades.filter((t) => t.exitReason === 'liquidation').length);
    const table = formatMetricsTable(m);
    expect(table).toContain('max gross leverage');
    expect(table).toContain(`liquidations`);
  });
});
