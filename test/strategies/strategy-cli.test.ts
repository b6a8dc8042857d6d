import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';
import { checkStrategyContract } from '../../strategies/kit/testing.ts';
import { loadStrategyFile } from '../../strategies/registry.ts';
import { SETTING_NAMES } from '../../pipelines/settings.ts';

/** a work folder with the 4-day fixture as data */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strategies-cli-'));
  mkdirSync(join(dir, 'data'));
  for (const s of ['BTCUSDT', 'ETHUSDT'])
    copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
  return dir;
}

const KIT = `${REPO}strategies/kit/contract.ts`;
const FAST = ['MOMENTUM_LOOKBACK_BARS=48', 'VOLATILITY_WINDOW_BARS=48'];

function strategyFile(dir: string, file: string, body: string): string {
  const path = join(dir, file);
  writeFileSync(path, body);
  return `./${file}`;
}

const valid = (
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

describe('sapphire backtest --strategy: bad strategy files stop with exit 1, naming file and export, writing nothing', () => {
  const cases: [string, string, RegExp][] = [
    ['missing.ts', '', /missing\.ts: no such strategy file/],
    ['syntax.ts', 'export default defineStrategy({ name: ', /syntax\.ts: cannot be loaded \(does it compile/],
    ['throws.ts', `throw new Error('boom at load');`, /throws\.ts: cannot be loaded .*boom at load/],
    ['no-default.ts', `export const name = 'x';`, /no-default\.ts: has no default export/],
    [
      'no-create.ts',
      `import { z } from '${KIT}';\nexport default { name: 'no-create', settings: z.object({}), searchSpace: {}, warmUpBars: () => 0 };`,
      /no-create\.ts: export "create" must be a function/,
    ],
    ['bad-prefix.ts', valid('bad-prefix', 'OTHER_'), /bad-prefix\.ts: setting OTHER_BARS must start with BAD_PREFIX_/],
    [
      'clash.ts',
      valid('max-gap', 'MAX_GAP_').replace('MAX_GAP_BARS', 'MAX_GAP_BARS'),
      /clash\.ts: setting MAX_GAP_BARS clashes with a setting of the platform/,
    ],
    [
      'malformed.ts',
      valid('malformed', 'MALFORMED_', "return { direction: 'up', strength: 1 };"),
      /strategy malformed \(\.\/malformed\.ts\) at .*onBar returned direction up/,
    ],
  ];
  it.each(cases)('%s', (file, body, message) => {
    const dir = workDir();
    const entry = body === '' ? `./${file}` : strategyFile(dir, file, body);
    const out = join(dir, 'out');
    const r = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--strategy', entry, '--out', out, '--quiet', ...FAST],
      { cwd: dir },
    );
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^sapphire: STRATEGY_INVALID/m);
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown shipped name lists the shipped ones', () => {
    const dir = workDir();
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--strategy', 'momentum,nope', '--quiet'], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /unknown strategy "nope"; shipped: momentum, mean-reversion, breakout, trend, funding-rate/,
    );
  });
});

describe('sapphire new strategy NAME', () => {
  it('scaffolds a strategy that keeps the contract, backtests and passes the look-ahead check as generated', async () => {
    const dir = workDir();
    const made = sapphire(['new', 'strategy', 'dip-buyer', '--dir', join(dir, 's'), '--test-dir', join(dir, 't')], {
      cwd: dir,
    });
    expect(made.code).toBe(0);
    const file = join(dir, 's', 'dip-buyer.ts');
    expect(readFileSync(join(dir, 't', 'dip-buyer.test.ts'), 'utf8')).toContain('checkStrategyContract(strategy)');

    const strategy = await loadStrategyFile(file, new Set(SETTING_NAMES));
    const report = await checkStrategyContract(strategy);
    expect(report.problems).toEqual([]);
    expect(report.signals).toBeGreaterThan(0);

    const out = join(dir, 'out');
    const bt = sapphire(
      [
        'backtest',
        '--data',
        join(dir, 'data'),
        '--strategy',
        `momentum,./s/dip-buyer.ts`,
        '--out',
        out,
        '--quiet',
        ...FAST,
        'DIP_BUYER_TREND_BARS=50',
      ],
      { cwd: dir },
    );
    expect(bt.stderr).not.toMatch(/sapphire:/);
    expect(bt.code).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { settings: Record<string, unknown> };
    expect(result.settings.STRATEGIES).toEqual(['momentum', './s/dip-buyer.ts']);

    const check = sapphire(
      [
        'check',
        'lookahead',
        '--data',
        join(dir, 'data'),
        '--strategy',
        './s/dip-buyer.ts',
        '--cuts',
        '3',
        ...FAST,
        'DIP_BUYER_TREND_BARS=50',
      ],
      { cwd: dir, timeoutMs: 120_000 },
    );
    expect(check.stderr).not.toMatch(/sapphire:/);
    expect(check.code).toBe(0);

    const again = sapphire(['new', 'strategy', 'dip-buyer', '--dir', join(dir, 's'), '--test-dir', join(dir, 't')], {
      cwd: dir,
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/dip-buyer\.ts exists: not overwritten/);
    const bad = sapphire(['new', 'strategy', 'Bad_Name'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/strategy name "Bad_Name": use kebab-case/);
  }, 240_000);

  it('sapphire backtest --strategy NAME runs a shipped strategy', () => {
    const dir = workDir();
    const out = join(dir, 'out');
    const r = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--strategy', 'mean-reversion', '--out', out, '--quiet', ...FAST],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { metrics: { trades: number } };
    expect(result.metrics.trades).toBeGreaterThan(0);
  });
});
