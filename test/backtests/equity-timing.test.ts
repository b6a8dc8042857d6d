import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BarColumns, PortfolioSnapshot } from '../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest, type BacktestResult } from '../../backtests/run-backtest.ts';
import { REPO } from '../kit/cli.ts';
import { sharedData } from '../kit/shared-data.ts';

const SAMPLE = join(REPO, 'data/sample/perp-5m');
const PERP_2025 = sharedData('perp-5m-2025');

const settingsFor = (series: readonly BarColumns[], o: Record<string, unknown> = {}): Settings =>
  parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(','), ...o });

/**
 * The equity rows rebuilt from the event stream alone: for each step time t (a bar close), the
 * last portfolio snapshot stamped at or before t — the books once every bar of t is in.
 */
function rowsFromSnapshots(result: BacktestResult, initial: number): { time: number; equity: number; held: boolean }[] {
  const times = [...new Set(result.events!.filter((e) => e.kind === 'bar').map((e) => e.time))].sort((a, b) => a - b);
  const snaps = result.events!.filter((e): e is PortfolioSnapshot => e.kind === 'portfolio');
  const out: { time: number; equity: number; held: boolean }[] = [];
  let k = 0;
  let current: PortfolioSnapshot | null = null;
  for (const t of times) {
    while (k < snaps.length && snaps[k]!.time <= t) current = snaps[k++]!;
    out.push({ time: t, equity: current?.equity ?? initial, held: (current?.positions.length ?? 0) > 0 });
  }
  return out;
}

describe('equity rows: the books at each step close, nothing later', () => {
  it('each row is the snapshot after the last bar of its step (shipped sample, 3 symbols)', async () => {
    const series = await loadDataset({ dir: SAMPLE });
    const settings = settingsFor(series);
    const result = runBacktest({ settings, series, keepEvents: true });
    const expected = rowsFromSnapshots(result, settings.INITIAL_BALANCE);
    expect(result.equity.length).toBe(expected.length);
    let differing = 0;
    for (let i = 0; i < expected.length; i++) {
      if (result.equity[i]!.time !== expected[i]!.time || result.equity[i]!.equity !== expected[i]!.equity) differing++;
    }
    expect(differing).toBe(0);
    // rows carry the bars' close time: the first row is the first bar's open + one interval
    expect(result.equity[0]!.time).toBe(series[0]!.openTime[0]! + series[0]!.intervalMs);
    // exposure counts the steps that end holding a position
    const held = expected.filter((r) => r.held).length;
    expect(held).toBeGreaterThan(0);
    expect(result.metrics.exposurePct).toBeCloseTo((held / expected.length) * 100, 10);
  });

  it('truncating the data leaves every row up to the cut unchanged (shipped sample)', async () => {
    const series = await loadDataset({ dir: SAMPLE });
    const settings = settingsFor(series, { SIZING_MODE: 'atr' });
    const full = runBacktest({ settings, series });
    // cut while a position is open, so the marks of the bars after the cut would show in the row
    const long = full.trades.filter((t) => t.time - t.openedAt > 10 * series[0]!.intervalMs);
    expect(long.length).toBeGreaterThan(3);
    for (const t of [long[0]!, long[Math.floor(long.length / 2)]!, long.at(-1)!]) {
      const cut = t.openedAt + 4 * series[0]!.intervalMs;
      const truncated = runBacktest({ settings, series, to: cut });
      // the truncated data's last bars close at `cut`: its last row is the row stamped `cut`
      expect(truncated.equity.at(-1)!.time).toBe(cut);
      expect(truncated.equity).toEqual(full.equity.filter((p) => p.time <= cut));
    }
  });

  it.skipIf(!existsSync(PERP_2025))(
    'the row at 2025-02-03T04:00 is the same with the data cut there (perp-5m-2025)',
    async () => {
      const series = await loadDataset({ dir: PERP_2025 });
      const settings = settingsFor(series);
      const cut = Date.parse('2025-02-03T04:00:00Z');
      const full = runBacktest({ settings, series });
      const truncated = runBacktest({ settings, series, to: cut });
      expect(full.equity.find((p) => p.time === cut)).toEqual(truncated.equity.at(-1));
      expect(truncated.equity).toEqual(full.equity.filter((p) => p.time <= cut));
    },
  );
});
