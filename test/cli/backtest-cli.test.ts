import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-cli-'));
  mkdirSync(join(dir, 'data'));
  for (const s of ['BTCUSDT', 'ETHUSDT']) {
    copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
  }
  return dir;
}

describe('sapphire backtest (the command a researcher runs)', () => {
  it('runs over a data folder, prints the report and writes result.json, trades.csv, equity.csv', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const r = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--out', out, 'MOMENTUM_LOOKBACK_BARS=48', 'MOMENTUM_THRESHOLD=0.3'],
      { cwd: dir },
    );
    expect(r.stderr).not.toMatch(/Error|sapphire:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Sapphire backtest — BTCUSDT, ETHUSDT 5m, 2304 bars');
    expect(r.stdout).toMatch(/Sharpe\s+-?\d/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      trades: unknown[];
      metrics: { trades: number };
      settings: Record<string, unknown>;
    };
    expect(result.metrics.trades).toBe(result.trades.length);
    expect(result.settings.MOMENTUM_LOOKBACK_BARS).toBe(48);
    const tradeLines = readFileSync(join(out, 'trades.csv'), 'utf8').trim().split('\n');
    // closed trades, then any position open at the end (status open)
    expect(tradeLines.filter((l) => l.includes(',closed,')).length).toBe(result.trades.length);
    expect(readFileSync(join(out, 'equity.csv'), 'utf8').trim().split('\n').length).toBe(1153);
  });

  it('stops on a bad setting naming variable, value and rule, exit ≠ 0, nothing written', () => {
    const dir = dataDir();
    writeFileSync(join(dir, '.env'), '# tuned\nMOMENTUM_THRESHOLD=-3\n');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', join(dir, 'out')], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('MOMENTUM_THRESHOLD');
    expect(r.stderr).toContain('-3');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('stops on a malformed data file naming file and line, exit ≠ 0, nothing written', () => {
    const dir = dataDir();
    const file = join(dir, 'data', 'ETHUSDT.csv');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[42] = lines[42]!.replace(/,[^,]+$/, ',NaN');
    writeFileSync(file, lines.join('\n'));
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', join(dir, 'out')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:43: volume "NaN" is not a number`);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('reads settings from --dotenv, or --env-file as its other name', () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'tuned.env'), '# tuned values\nMOMENTUM_LOOKBACK_BARS=36\n');
    for (const flag of ['--dotenv', '--env-file']) {
      const out = join(dir, `out${flag}`);
      const r = sapphire(
        ['backtest', '--data', join(dir, 'data'), '--out', out, '--quiet', flag, join(dir, 'tuned.env')],
        {
          cwd: dir,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
        settings: Record<string, unknown>;
      };
      expect(result.settings.MOMENTUM_LOOKBACK_BARS).toBe(36);
    }
  });

  it('rejects unknown flags and symbols the data does not have', () => {
    const dir = dataDir();
    expect(sapphire(['backtest', '--bogus'], { cwd: dir }).code).not.toBe(0);
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--symbols', 'DOGEUSDT'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no data for DOGEUSDT');
  });
});
