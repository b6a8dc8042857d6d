import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest, type BacktestResult } from '../../backtests/run-backtest.ts';
import { formatMetricsTable } from '../../backtests/report/metrics.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { minimumMarketQuantity } from '../../operators/execution/precision.kernel.ts';
import type { BarColumns, TradeClosed } from '../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';

/**
 * Finding 11 of issue 12: 99.6 % of a default backtest's trades were exchange-minimum probes of
 * arms the bandit had condemned after one loss, so the three sizing modes made the same trades.
 * On the shipped sample, with the default settings.
 */

let series: BarColumns[];
const settingsFor = (o: Record<string, unknown> = {}): Settings =>
  parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(','), BAR_INTERVAL: '5m', ...o });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const notional = (t: TradeClosed) => t.quantity * t.entryPrice;

beforeAll(async () => {
  series = await loadDataset({ dir: 'data/sample/perp-5m' });
});

describe('bandit explorations (issue 12, finding 11)', () => {
  let kelly: BacktestResult;
  beforeAll(() => {
    kelly = runBacktest({ settings: settingsFor(), series, keepEvents: true });
  });

  it('flags every trade opened by an exploration, from its entry intent to TradeClosed', () => {
    const intentExplored = new Map<string, boolean>();
    const opened = new Map<string, boolean>();
    const expected: boolean[] = [];
    for (const e of kelly.events!) {
      if (e.kind === 'intent' && e.reason === 'entry') intentExplored.set(e.clientOrderId, e.explored === true);
      if (e.kind === 'fill' && e.reason === 'entry') opened.set(e.symbol, intentExplored.get(e.clientOrderId)!);
      if (e.kind === 'trade-closed') expected.push(opened.get(e.symbol)!);
    }
    expect(kelly.trades.map((t) => t.explored === true)).toEqual(expected);
    expect(expected.filter(Boolean).length).toBeGreaterThan(5);
    expect(expected.filter((x) => !x).length).toBeGreaterThan(5);
  });

  it('reports funded trades and explorations apart, and the two add up to the whole', () => {
    const [funded, explored] = kelly.metrics.byFunding;
    for (const [g, trades] of [
      [funded!, kelly.trades.filter((t) => !t.explored)],
      [explored!, kelly.trades.filter((t) => t.explored)],
    ] as const) {
      expect(g.trades).toBe(trades.length);
      expect(g.netPnl).toBeCloseTo(
        trades.reduce((s, t) => s + t.netPnl, 0),
        9,
      );
      expect(g.winRate).toBeCloseTo(trades.filter((t) => t.netPnl > 0).length / trades.length, 12);
      const won = trades.filter((t) => t.netPnl > 0).reduce((s, t) => s + t.netPnl, 0);
      const lost = -trades.filter((t) => t.netPnl < 0).reduce((s, t) => s + t.netPnl, 0);
      expect(g.profitFactor).toBeCloseTo(won / lost, 9);
      expect(g.medianNotional).toBeCloseTo(median(trades.map(notional)), 9);
    }
    expect(funded!.trades + explored!.trades).toBe(kelly.metrics.trades);
    const table = formatMetricsTable(kelly.metrics);
    expect(table).toMatch(/^ {2}funded +\d+ /m);
    expect(table).toMatch(/^ {2}explored +\d+ /m);
  });

  it('a default backtest is not mostly exchange-minimum probes, and the sizing modes size differently', () => {
    const filters = filtersFor(series.map((c) => c.symbol));
    const results = Object.fromEntries(
      (['kelly', 'fixed', 'atr'] as const).map((mode) => [
        mode,
        mode === 'kelly' ? kelly : runBacktest({ settings: settingsFor({ SIZING_MODE: mode }), series }),
      ]),
    );
    const fundedMedian: number[] = [];
    for (const [mode, r] of Object.entries(results)) {
      // probes at the smallest order the exchange takes (what 99.6 % of trades were)
      const atMinimum = r.trades.filter(
        (t) => t.quantity <= minimumMarketQuantity(filters.get(t.symbol)!, t.entryPrice) + 1e-12,
      );
      expect(atMinimum.length / r.trades.length, mode).toBeLessThan(0.75);
      const funded = r.trades.filter((t) => !t.explored);
      expect(funded.length, mode).toBeGreaterThanOrEqual(29);
      fundedMedian.push(median(funded.map(notional)));
    }
    // kelly ≈ 8.8 %, fixed 5 %, atr ≈ 1.5× of 10,000 equity: three clearly different sizes
    const [k, f, a] = fundedMedian;
    expect(k! / f!).toBeGreaterThan(1.3);
    expect(a! / k!).toBeGreaterThan(5);
    // explorations are a share of the normal size, so they differ by mode too
    const probe = (r: BacktestResult) => median(r.trades.filter((t) => t.explored).map(notional));
    expect(probe(results.atr!) / probe(results.fixed!)).toBeGreaterThan(5);
  });
});
