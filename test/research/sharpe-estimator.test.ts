import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { loadDataset } from '../../backtests/data/index.ts';
import { returnsBasisFor, riskRatios } from '../../backtests/report/metrics.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { parseSettings, withOverrides } from '../../pipelines/settings.ts';
import { JournalStorage } from '../../research/storage/journal.ts';
import { runTuning } from '../../research/tune.ts';
import type { TrialMetrics } from '../../research/objectives.ts';

const SAMPLE = new URL('../../data/sample/perp-5m', import.meta.url).pathname;
const DAY = 86_400_000;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Annualised Sharpe of daily returns, written out here: the equity at the last row of each UTC day. */
function dailySharpe(equity: readonly { time: number; equity: number }[]): number {
  const closes: number[] = [equity[0]!.equity];
  for (let i = 0; i < equity.length; i++) {
    const last = i === equity.length - 1 || Math.floor(equity[i + 1]!.time / DAY) !== Math.floor(equity[i]!.time / DAY);
    if (last) closes.push(equity[i]!.equity);
  }
  const r = closes.slice(1).map((c, i) => c / closes[i]! - 1);
  return (mean(r) / sampleStandardDeviation(r)) * Math.sqrt(365);
}

describe('walk-forward uses one Sharpe estimator for every window (finding 12)', () => {
  it('the shipped sample (120 days): 60-day train and 20-day test windows are both scored on daily returns', async () => {
    const series = await loadDataset({ dir: SAMPLE, symbols: ['BTCUSDT'] });
    const base = withOverrides(parseSettings({}), { SYMBOLS: ['BTCUSDT'], BAR_INTERVAL: '5m' }, 'the test');
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-sharpe-basis-'));
    dirs.push(dir);
    const report = await runTuning({
      base,
      series,
      source: { series },
      space: { MOMENTUM_THRESHOLD: { type: 'float', low: 0.2, high: 1.5 } },
      objective: 'sharpe',
      minTrades: 0,
      sampler: 'random',
      trials: 3,
      workers: 0,
      storage: new JournalStorage(join(dir, 'studies.jsonl')),
      study: 'basis',
      folds: 3,
      seed: 1,
      workerId: 'test',
    });
    expect(report.returnsBasis).toBe('daily');
    expect(report.folds).toHaveLength(3);
    for (const f of report.folds) {
      // the folds straddle 30 days: a backtest of either window alone would pick differently
      expect(returnsBasisFor(f.train.to - f.train.from)).toBe('daily');
      expect(returnsBasisFor(f.test.to - f.test.from)).toBe('bar');
      expect(f.returnsBasis).toBe('daily');
      expect(f.inSample.metrics?.returnsBasis).toBe('daily');
      expect(f.outOfSample.metrics?.returnsBasis).toBe('daily');
      for (const t of f.trials) expect((t.attrs?.metrics as TrialMetrics).returnsBasis).toBe('daily');
    }
    // recompute one fold's test score independently from the backtest's own equity curve
    const f = report.folds[1]!;
    const settings = withOverrides(base, f.best!.params, 'the test');
    const alone = runBacktest({ settings, series, from: f.test.from, to: f.test.to });
    // a backtest on its own keeps choosing from its own (20-day) span
    expect(alone.metrics.returnsBasis).toBe('bar');
    expect(f.outOfSample.raw).toBeCloseTo(dailySharpe(alone.equity), 10);
    expect(f.outOfSample.raw).not.toBeCloseTo(alone.metrics.sharpe, 3);
    const train = runBacktest({ settings, series, from: f.train.from, to: f.train.to });
    expect(f.inSample.raw).toBeCloseTo(dailySharpe(train.equity), 10);
  });
});

describe('the estimator choice in backtests/report/metrics.ts', () => {
  // a real equity curve: the sample's BTC closes over 10 days, as if fully invested
  it('a run chooses from its own span unless the study hands it one', async () => {
    const [btc] = await loadDataset({ dir: SAMPLE, symbols: ['BTCUSDT'] });
    const rows = Array.from({ length: 10 * 288 }, (_, i) => ({ time: btc!.openTime[i]!, equity: btc!.close[i]! }));
    const own = riskRatios(rows, 300_000);
    expect(own.returnsBasis).toBe('bar');
    const perBar = rows.slice(1).map((r, i) => r.equity / rows[i]!.equity - 1);
    expect(own.sharpe).toBeCloseTo(
      (mean(perBar) / sampleStandardDeviation(perBar)) * Math.sqrt((365 * DAY) / 300_000),
      10,
    );
    const daily = riskRatios(rows, 300_000, 'daily');
    expect(daily.returnsBasis).toBe('daily');
    expect(daily.sharpe).toBeCloseTo(dailySharpe(rows), 10);
    expect(returnsBasisFor(30 * DAY - 1)).toBe('bar');
    expect(returnsBasisFor(30 * DAY)).toBe('daily');
  });
});
