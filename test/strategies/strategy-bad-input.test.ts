import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** a work folder with the 4-day fixture as data */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strategies-bad-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'data'));
  for (const s of ['BTCUSDT', 'ETHUSDT'])
    copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
  return dir;
}

const KIT = `${REPO}strategies/kit/contract.ts`;
const FAST = ['MOMENTUM_LOOKBACK_BARS=48', 'VOLATILITY_WINDOW_BARS=48'];
const strategy = (
  name: string,
  prefix: string,
  onBar = 'return null;',
) => `import { defineStrategy, int, z } from '${KIT}';
export default defineStrategy({
  name: '${name}',
  settings: z.object({ ${prefix}BARS: int(5, 1, 100, 'bars') }),
  searchSpace: {},
  warmUpBars: (s) => s.${prefix}BARS,
  create: () => ({ onBar() { ${onBar} } }),
});
`;

describe('bad strategy input beyond one backtest file: exit 1, file and field named, nothing written', () => {
  it('two strategy files declaring the same setting: the second names the first', () => {
    const dir = workDir();
    writeFileSync(join(dir, 'a.ts'), strategy('twin', 'TWIN_'));
    writeFileSync(join(dir, 'b.ts'), strategy('twin', 'TWIN_'));
    const out = join(dir, 'out');
    const r = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--out', out, '--quiet', 'STRATEGIES=./a.ts,./b.ts', ...FAST],
      { cwd: dir },
    );
    expect(r.stderr).toMatch(/b\.ts: setting TWIN_BARS clashes with the same setting in \.\/a\.ts/);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('a signal with a strength outside 0..1 names the strategy, its file and the field', () => {
    const dir = workDir();
    writeFileSync(join(dir, 'strong.ts'), strategy('strong', 'STRONG_', 'return { direction: 1, strength: 7 };'));
    const out = join(dir, 'out');
    const r = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--strategy', './strong.ts', '--out', out, '--quiet', ...FAST],
      { cwd: dir },
    );
    expect(r.stderr).toMatch(/strategy strong \(\.\/strong\.ts\) at .*onBar returned strength 7, expected 0\.\.1/);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it.each([
    ['tune', ['--trials', '2', '--folds', '1', '--workers', '0']],
    ['check', ['lookahead']],
  ])(
    '%s with a strategy file that does not compile: exit 1, the file named, no output folder',
    (command, extra) => {
      const dir = workDir();
      writeFileSync(join(dir, 'broken.ts'), 'export default defineStrategy({ name: ');
      const out = join(dir, 'out');
      const args =
        command === 'check'
          ? ['check', ...extra, '--data', join(dir, 'data'), '--strategy', './broken.ts', ...FAST]
          : [command, ...extra, '--data', join(dir, 'data'), '--strategy', './broken.ts', '--out', out, ...FAST];
      const r = sapphire(args, { cwd: dir, timeoutMs: 120_000 });
      expect(r.stderr).toMatch(/broken\.ts: cannot be loaded \(does it compile/);
      expect(r.stderr).toMatch(/^sapphire: STRATEGY_INVALID/m);
      expect(r.code).toBe(1);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(join(dir, '.sapphire'))).toBe(false);
    },
    120_000,
  );
});
