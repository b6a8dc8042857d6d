import { copyFileSync, mkdirSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';
import { closest, editDistance } from '../../bin/kit/did-you-mean.ts';
import { backtestSpan } from '../../bin/commands/backtest.ts';

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'reports-cli-'));
  mkdirSync(join(dir, 'data'));
  copyFileSync(join(REPO, 'test/fixtures/core/BTCUSDT-5m-2025-01-28.csv'), join(dir, 'data', 'BTCUSDT.csv'));
  return dir;
}

describe('did-you-mean', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    expect(editDistance('backtest', 'backtest')).toBe(0);
    expect(editDistance('bakctest', 'backtest')).toBe(1);
    expect(editDistance('backtes', 'backtest')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('offers a near candidate and nothing for an unrelated word', () => {
    expect(closest('tnue', ['backtest', 'tune', 'serve'])).toBe('tune');
    expect(closest('symbol', ['symbols', 'from', 'to'])).toBe('symbols');
    expect(closest('zzzzzz', ['backtest', 'tune'])).toBeUndefined();
  });
});

describe('sapphire command-line errors (project words, did-you-mean, exit ≠ 0)', () => {
  it('an unknown command names the nearest one', () => {
    const r = sapphire(['backtets']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "backtets" (did you mean sapphire backtest?)');
  });

  it('an unknown flag names the nearest flag, not Node parseArgs text', () => {
    const r = sapphire(['backtest', '--symbol', 'BTCUSDT']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown option --symbol (did you mean --symbols?)');
    expect(r.stderr).not.toMatch(/To specify a positional argument|ERR_PARSE_ARGS/);
    const t = sapphire(['tune', '--trails', '5']);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('unknown option --trails (did you mean --trials?)');
  });

  it('a flag without its value, or a switch given one, says so', () => {
    expect(sapphire(['backtest', '--out']).stderr).toContain('--out needs a value');
    expect(sapphire(['backtest', '--html=yes']).stderr).toContain('--html takes no value');
  });

  it('a misspelt NAME=VALUE setting is an error with the nearest setting, nothing written', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, 'MOMENTUM_THRESHOLDD=0.5'], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown setting MOMENTUM_THRESHOLDD');
    expect(r.stderr).toContain('(did you mean MOMENTUM_THRESHOLD?)');
    const lower = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, 'momentum_threshold=0.5'], {
      cwd: dir,
    });
    expect(lower.code).toBe(1);
    expect(lower.stderr).toContain('did you mean MOMENTUM_THRESHOLD=0.5?');
    expect(existsSync(out)).toBe(false);
  });

  it('a missing --dotenv (or --env-file) file is an error naming it, nothing written', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const missing = join(dir, 'tunde.env');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--dotenv', missing], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--dotenv ${missing}: no such file`);
    // Node 20 itself stops on a missing --env-file before our code runs (exit 9), naming the file
    const e = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--env-file', missing], { cwd: dir });
    expect(e.code).not.toBe(0);
    expect(e.stderr).toContain(missing);
    expect(existsSync(out)).toBe(false);
  });

  it('the backtest header gives the date range and the initial capital', () => {
    const dir = dataDir();
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', join(dir, 'out'), 'INITIAL_BALANCE=25000'], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2025-01-2\d \d\d:\d\d → 2025-0\d-\d\d \d\d:\d\d UTC, initial capital 25,000 USDT/);
    expect(backtestSpan(Date.UTC(2025, 0, 1), Date.UTC(2025, 1, 1), 10_000.5)).toBe(
      '2025-01-01 00:00 → 2025-02-01 00:00 UTC, initial capital 10,000.5 USDT',
    );
  });
});
