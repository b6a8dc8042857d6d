import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { REPO, sapphire } from '../kit/cli.ts';

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-seeds-'));
  mkdirSync(join(dir, 'data'));
  for (const s of ['BTCUSDT', 'ETHUSDT']) {
    copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
  }
  return dir;
}

// settings under which the bandit's draws matter within the 4-day fixture
const SETTINGS = [
  'MOMENTUM_LOOKBACK_BARS=48',
  'MOMENTUM_THRESHOLD=0.3',
  'VOLATILITY_WINDOW_BARS=48',
  'COOLDOWN_BARS=3',
  'SIZING_MODE=fixed',
  'BANDIT_MIN_TRADES=2',
  'BANDIT_EPSILON=0.5',
];

interface Spread {
  median: number;
  p5: number;
  p95: number;
}

describe('sapphire backtest --seeds N', () => {
  it('runs SEED … SEED+N−1 in worker threads and reports the median and the 5–95 % range', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--seeds', '4', 'SEED=7', ...SETTINGS], {
      cwd: dir,
      timeoutMs: 120_000,
    });
    expect(r.stderr).not.toMatch(/Error|sapphire:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Across 4 seeds (SEED 7…10): median and 5–95 % range');
    expect(r.stdout).toMatch(/^ {2}total return \(%\) +-?\d/m);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      metrics: { trades: number; totalReturnPct: number };
      seeds: {
        seeds: number[];
        runs: { seed: number; trades: number; totalReturnPct: number }[];
        figures: Record<string, Spread>;
      };
    };
    expect(result.seeds.seeds).toEqual([7, 8, 9, 10]);
    // the first run is the report's own; each other one is the same backtest under its seed
    expect(result.seeds.runs[0]!.trades).toBe(result.metrics.trades);
    const settings = parseSettings(
      Object.fromEntries(
        [...SETTINGS, 'SYMBOLS=BTCUSDT,ETHUSDT', 'BAR_INTERVAL=5m'].map((kv) => kv.split('=') as [string, string]),
      ),
    );
    const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
    for (const run of result.seeds.runs) {
      const own = runBacktest({ settings: { ...settings, SEED: run.seed }, series });
      expect(run.trades, `SEED=${run.seed}`).toBe(own.metrics.trades);
      expect(run.totalReturnPct).toBeCloseTo(own.metrics.totalReturnPct, 9);
    }
    expect(new Set(result.seeds.runs.map((x) => x.trades)).size).toBeGreaterThan(1);
    // four values: the median is the mean of the middle two; p5 and p95 interpolate 15 % into the end gaps
    const x = result.seeds.runs.map((run) => run.totalReturnPct).sort((a, b) => a - b);
    const spread = result.seeds.figures.totalReturnPct!;
    expect(spread.median).toBeCloseTo((x[1]! + x[2]!) / 2, 9);
    expect(spread.p5).toBeCloseTo(x[0]! + 0.15 * (x[1]! - x[0]!), 9);
    expect(spread.p95).toBeCloseTo(x[2]! + 0.85 * (x[3]! - x[2]!), 9);
  }, 150_000);

  it('refuses a bad --seeds naming the flag, exit ≠ 0, nothing written', () => {
    const dir = dataDir();
    for (const bad of ['0', '2.5']) {
      const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', join(dir, 'out'), '--seeds', bad], {
        cwd: dir,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`--seeds "${bad}"`);
    }
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
