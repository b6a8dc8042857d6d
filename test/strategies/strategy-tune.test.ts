import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';
import { strategySelectionParam } from '../../research/strategy-space.ts';
import { formatWalkForwardTable, readStudy, walkForwardRow } from '../../research/walk-forward-table.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strategy-tune-'));
  dirs.push(dir);
  return dir;
}

interface StoredTrial {
  params: Record<string, unknown>;
  state: string;
  attrs?: { metrics?: { trades: number }; strategies?: { strategy: string; trades: number }[] };
}
interface StoredTune {
  chosen: Record<string, unknown> | null;
  folds: { trials: StoredTrial[]; outOfSample: { strategies: { strategy: string }[] } }[];
}
const tuneJson = (out: string) => JSON.parse(readFileSync(join(out, 'tune.json'), 'utf8')) as StoredTune;

// the sample (2025-10-22 → 2026-02-19) is exactly the span of the shipped funding history; SOL's
// rate is beyond ±0.0001 at 108 of its 363 fundings
const SAMPLE = join(REPO, 'data/sample/perp-5m');
const FUNDING_RUN = [
  'tune',
  '--data',
  SAMPLE,
  '--symbols',
  'SOLUSDT',
  '--strategy',
  'funding-rate',
  '--params',
  'FUNDING_RATE_ENTRY:0.0001:0.00015',
  '--trials',
  '2',
  '--folds',
  '1',
  '--workers',
  '1',
  '--min-trades',
  '0',
  '--sampler',
  'random',
  '--quiet',
];

describe('sapphire tune with strategies', () => {
  it('trials pay the funding history a backtest pays (FUNDING_CSV), so funding-rate can trade while tuned', () => {
    const out = join(tempDir(), 'out');
    const r = sapphire([...FUNDING_RUN, '--out', out], { timeoutMs: 240_000 });
    expect(r.stderr).not.toMatch(/sapphire:/);
    expect(r.code).toBe(0);
    const trials = tuneJson(out).folds[0]!.trials;
    expect(trials).toHaveLength(2);
    // before: the trials never saw a rate, the strategy never spoke, every trial had 0 trades
    for (const t of trials) expect(t.attrs?.metrics?.trades).toBeGreaterThan(0);

    // --funding FILE replaces it, as in sapphire backtest: a history without SOL leaves it silent
    const dir = tempDir();
    const btcOnly = join(dir, 'btc-funding.csv');
    const lines = readFileSync(
      join(REPO, 'data/sample/funding/BTC-ETH-SOL-USDT-funding-2025-10-22_2026-02-19.csv'),
      'utf8',
    )
      .split('\n')
      .filter((l, i) => i === 0 || l.startsWith('BTCUSDT,'));
    writeFileSync(btcOnly, `${lines.join('\n')}\n`);
    const without = join(dir, 'out');
    const none = sapphire([...FUNDING_RUN, '--out', without, '--funding', btcOnly], { timeoutMs: 240_000 });
    expect(none.stderr).not.toMatch(/sapphire:/);
    expect(none.code).toBe(0);
    for (const t of tuneJson(without).folds[0]!.trials) expect(t.attrs?.metrics?.trades).toBe(0);
  }, 300_000);

  it('the categorical search over which strategies run: every trial runs a listed choice and reports each strategy', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    for (const s of ['BTCUSDT', 'ETHUSDT'])
      copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
    const out = join(dir, 'out');
    const r = sapphire(
      [
        'tune',
        '--data',
        join(dir, 'data'),
        '--params',
        'STRATEGIES',
        '--trials',
        '6',
        '--folds',
        '1',
        '--workers',
        '0',
        '--min-trades',
        '0',
        '--sampler',
        'random',
        '--seed',
        '3',
        '--out',
        out,
        'MOMENTUM_LOOKBACK_BARS=48',
        'VOLATILITY_WINDOW_BARS=48',
        'BREAKOUT_CHANNEL_BARS=24',
        'TREND_SLOW_BARS=96',
      ],
      { cwd: dir, timeoutMs: 240_000 },
    );
    expect(r.stderr).not.toMatch(/sapphire:/);
    expect(r.code).toBe(0);
    const choices = strategySelectionParam();
    if (choices.type !== 'categorical') throw new Error('STRATEGIES is categorical');
    const study = tuneJson(out);
    const trials = study.folds[0]!.trials.filter((t) => t.state === 'complete');
    expect(trials).toHaveLength(6);
    for (const t of trials) {
      const chosen = String(t.params.STRATEGIES);
      expect(choices.choices).toContain(chosen);
      // each trial's per-strategy parts name only the strategies it ran, and add up to its trades
      const parts = t.attrs?.strategies ?? [];
      for (const p of parts) expect(chosen.split(',')).toContain(p.strategy);
      expect(parts.reduce((n, p) => n + p.trades, 0)).toBe(t.attrs?.metrics?.trades);
    }
    expect(trials.some((t) => String(t.params.STRATEGIES).includes(','))).toBe(true);
    expect(r.stdout).toMatch(/chosen \(fold 1 winner.*\): STRATEGIES=[a-z-]+(,[a-z-]+)?/);
    // the terminal gives each strategy's part of the winner when it ran several, else the fold row says it
    const winnerRanSeveral = study.folds[0]!.outOfSample.strategies.length > 1;
    if (winnerRanSeveral) expect(r.stdout).toMatch(/Per strategy[\s\S]*fold 1 OOS: [a-z-]+ \d+ trades/);
  }, 300_000);

  it('the walk-forward table gives every fold of a study, losers and folds without a winner included', () => {
    const out = join(tempDir(), 'funding-rate');
    const r = sapphire([...FUNDING_RUN, '--folds', '2', '--out', out], { timeoutMs: 240_000 });
    expect(r.code).toBe(0);
    const study = readStudy(join(out, '..'), 'funding-rate');
    const row = walkForwardRow('funding-rate', study);
    expect(row.inSample).toHaveLength(2);
    expect(row.trialsPerFold).toBe(2);
    const folds = study.folds;
    expect(row.outOfSampleTrades).toBe(folds.reduce((n, f) => n + (f.outOfSample.metrics?.trades ?? 0), 0));
    folds.forEach((f, i) => {
      if (!f.inSample.feasible) expect([row.dsr[i], row.pbo[i]]).toEqual([null, null]);
      else expect(row.dsr[i]).toBe(f.luck.dsr?.dsr ?? null);
    });
    const table = formatWalkForwardTable([row]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain(
      `| funding-rate | ${row.inSample.map((v) => (v === null ? '—' : v.toFixed(2))).join(' / ')} |`,
    );
    expect(() => readStudy(join(out, '..'), 'nope')).toThrow(/nope[/\\]tune\.json: no study/);
  }, 300_000);
});
