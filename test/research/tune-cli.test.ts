import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';
import { parseEnvFile } from '../../pipelines/load-settings.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-tune-cli-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'data'));
  for (const s of ['BTCUSDT', 'ETHUSDT']) {
    copyFileSync(join(REPO, `test/fixtures/core/${s}-5m-2025-01-28.csv`), join(dir, 'data', `${s}.csv`));
  }
  return dir;
}

const ENV = ['# research settings', 'SYMBOLS=BTCUSDT,ETHUSDT  # both fixtures', 'MOMENTUM_THRESHOLD=0.5', ''].join(
  '\n',
);

describe('sapphire tune', () => {
  it('tunes walk-forward, prints IS vs OOS and writes the winner into .env keeping the rest; re-running resumes', () => {
    const dir = workspace();
    writeFileSync(join(dir, '.env'), ENV);
    const args = [
      'tune',
      '--data',
      'data',
      '--params',
      'MOMENTUM_THRESHOLD,ATR_STOP_MULTIPLE:1:4',
      '--trials',
      '10',
      '--folds',
      '2',
      '--min-trades',
      '1',
      '--workers',
      '1',
      '--study',
      'cli',
      '--write-env',
      '--out',
      'out',
      '--html',
    ];
    // one day of bars and 10 trials: the winner is luck, and --write-env says so and writes nothing
    const refused = sapphire(args, { cwd: dir, timeoutMs: 120_000 });
    expect(refused.code).toBe(1);
    const luck = (
      JSON.parse(readFileSync(join(dir, 'out/tune.json'), 'utf8')) as {
        luck: { dsr: { dsr: number; trials: number }; pbo: { pbo: number; splits: number } };
      }
    ).luck;
    expect(luck.dsr.trials).toBe(10);
    expect(luck.pbo.splits).toBe(12870);
    expect(luck.dsr.dsr < 0.5 || luck.pbo.pbo > 0.5).toBe(true);
    expect(refused.stderr).toMatch(/--write-env: nothing written: the winner of fold 2 is likely luck/);
    expect(refused.stderr).toContain(
      `DSR ${Number(luck.dsr.dsr.toPrecision(4))}, PBO ${Number(luck.pbo.pbo.toPrecision(4))}`,
    );
    expect(refused.stdout).toMatch(/fold 2: DSR [\d.]+ .*; PBO [\d.]+ \(CSCV, S 16, 12870 splits, 10 trials\)/);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(ENV);
    expect(existsSync(join(dir, '.env.bak'))).toBe(false);
    const html = readFileSync(join(dir, 'out/tune.html'), 'utf8');
    expect(html).toContain('<section id="luck"><h2>How much of the winner is luck</h2>');
    expect(html).toContain(
      `<div class="k">Deflated Sharpe Ratio</div><div class="v neg">${luck.dsr.dsr.toFixed(3)}</div>`,
    );
    expect(html).toContain(`${luck.pbo.pbo.toFixed(3)}</div>`);
    // the Best card names its fold; the trial table has one Sharpe column (the objective's)
    expect(html).toContain('Best trial (fold 2 of 2, train window)');
    const trialHead = /<table class="data trials"><thead>(.*?)<\/thead>/.exec(html)![1]!;
    expect(trialHead).not.toMatch(/>Sharpe</);
    expect(trialHead).toContain('Sharpe (objective)');
    expect(trialHead).not.toMatch(/>[a-z]+[A-Z][a-zA-Z]*</); // no camelCase keys as headers
    // --force writes it (the study resumes: no new trials)
    const r = sapphire([...args, '--force'], { cwd: dir, timeoutMs: 120_000 });
    expect(r.stderr).not.toMatch(/sapphire:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--force: writing despite');
    expect(r.stdout).toContain('Walk-forward: in-sample (train) vs out-of-sample (test), objective sharpe');
    expect(r.stdout).toMatch(/IS sharpe\s+OOS sharpe/);
    expect(r.stdout).toContain('Parameters (fold 2)');
    const report = JSON.parse(readFileSync(join(dir, 'out/tune.json'), 'utf8')) as {
      folds: { trials: unknown[]; train: { to: number }; test: { from: number } }[];
      chosen: Record<string, number>;
    };
    expect(report.folds).toHaveLength(2);
    for (const f of report.folds) {
      expect(f.trials).toHaveLength(10);
      expect(f.train.to).toBe(f.test.from);
    }
    const env = readFileSync(join(dir, '.env'), 'utf8');
    expect(env.startsWith('# research settings\nSYMBOLS=BTCUSDT,ETHUSDT  # both fixtures\n')).toBe(true);
    // written rounded to each setting's step/precision, never 16 digits of float noise
    const written = parseEnvFile(env, '.env');
    expect(Number(written.get('MOMENTUM_THRESHOLD'))).toBeCloseTo(report.chosen.MOMENTUM_THRESHOLD!, 2);
    expect(Number(written.get('ATR_STOP_MULTIPLE'))).toBeCloseTo(report.chosen.ATR_STOP_MULTIPLE!, 2);
    expect(env).not.toMatch(/=\d+\.\d{6,}/);
    expect(r.stdout).toMatch(/out-of-sample verdict: the winners (hold up|degrade|lose)/);
    expect(r.stdout).toContain('study exists: 20/20 trials done');
    expect(report.chosen.ATR_STOP_MULTIPLE).toBeGreaterThanOrEqual(1);
    expect(report.chosen.ATR_STOP_MULTIPLE).toBeLessThanOrEqual(4);
    expect(readFileSync(join(dir, '.env.bak'), 'utf8')).toBe(ENV);
    // the default journal (under --out) holds both fold studies; a re-run resumes them instead of adding trials
    const journal = join(dir, 'out/studies.jsonl');
    expect(existsSync(join(dir, '.sapphire'))).toBe(false);
    const reserves = () =>
      readFileSync(journal, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"op":"reserve"')).length;
    expect(reserves()).toBe(20);
    const again = sapphire([...args.filter((a) => a !== '--write-env'), '--quiet'], { cwd: dir, timeoutMs: 120_000 });
    expect(again.code).toBe(0);
    expect(reserves()).toBe(20);
    expect(again.stdout).toContain('study exists: 20/20 trials done');
    expect(again.stdout).toContain('--fresh starts a new study');
    expect(again.stdout).toContain(`MOMENTUM_THRESHOLD=${written.get('MOMENTUM_THRESHOLD')}`);
    // the progress line names the fold it is on; too many folds for one day of bars is a warning
    expect(refused.stderr).toMatch(/fold 2\/2, fold best sharpe/);
    expect(refused.stderr).toMatch(/warning: --folds 2: each test window is only \d+ bars/);
    // --fresh starts a new study beside the stored one
    const fresh = sapphire([...args.filter((a) => a !== '--write-env'), '--quiet', '--fresh', '--trials', '2'], {
      cwd: dir,
      timeoutMs: 120_000,
    });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('--fresh: new study cli-2 (cli keeps its 20 trials)');
    expect(reserves()).toBe(24);
  }, 180_000); // four CLI runs (refused, --force, resumed, fresh) on a shared 2-core machine

  it.each([
    [['--params', 'NOT_A_KNOB'], /unknown parameter NOT_A_KNOB \(tunable: .*MOMENTUM_THRESHOLD/],
    [['--params', 'MOMENTUM_THRESHOLD:2:1'], /MOMENTUM_THRESHOLD: empty or inverted range 2\.\.1/],
    [['--params', 'MOMENTUM_THRESHOLD:1:1'], /empty or inverted range/],
    [['--objective', 'luck'], /--objective "luck"/],
    [['--sampler', 'grid'], /--sampler "grid"/],
    [['--trials', '0'], /--trials "0"/],
    [['--storage', 'redis://127.0.0.1:1'], /STUDY_STORAGE: redis:\/\/127\.0\.0\.1:1\/? does not answer/],
    [['--bogus'], /unknown option --bogus/],
    [['--trails', '5'], /unknown option --trails \(did you mean --trials\?\)/],
  ])('refuses %j with a clear error, exit ≠ 0, .env untouched', (extra, message) => {
    const dir = workspace();
    writeFileSync(join(dir, '.env'), ENV);
    const r = sapphire(
      ['tune', '--data', 'data', '--trials', '3', '--folds', '1', '--workers', '0', '--write-env', ...extra],
      {
        cwd: dir,
      },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(ENV);
    expect(existsSync(join(dir, '.env.bak'))).toBe(false);
  });

  it('names a study file that does not parse, or has a bad field', () => {
    const dir = workspace();
    writeFileSync(join(dir, 'broken.json'), '{"params": [');
    const r = sapphire(['tune', '--data', 'data', '--study-file', 'broken.json'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/study file broken\.json does not parse/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ params: { MOMENTUM_THRESHOLD: { low: 'x' } } }));
    const r2 = sapphire(['tune', '--data', 'data', '--study-file', 'bad.json'], { cwd: dir });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/study file bad\.json: params\.MOMENTUM_THRESHOLD\.low/);
  });

  it('runs from a study file and writes nothing to .env when no trial is feasible', () => {
    const dir = workspace();
    writeFileSync(join(dir, '.env'), ENV);
    writeFileSync(
      join(dir, 'study.json'),
      JSON.stringify({ params: { MOMENTUM_THRESHOLD: { low: 0.2, high: 1 } }, trials: 4, folds: 1, minTrades: 100000 }),
    );
    const r = sapphire(['tune', '--data', 'data', '--study-file', 'study.json', '--workers', '0', '--write-env'], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no feasible winner');
    expect(r.stdout).toMatch(/penalised/);
    expect(r.stderr).toContain('--write-env: nothing written');
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(ENV);
  });

  it('shares a study through Redis (--storage redis://…, --study NAME) and leaves it resumable', async () => {
    const dir = workspace();
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const study = `cli-${process.pid}-${Date.now().toString(36)}`;
    const args = ['tune', '--data', 'data', '--params', 'MOMENTUM_THRESHOLD', '--trials', '6', '--folds', '1'];
    const more = ['--min-trades', '0', '--workers', '1', '--storage', url, '--study', study, '--quiet'];
    const { RedisStorage } = await import('../../research/storage/redis.ts');
    const storage = await RedisStorage.connect(url);
    try {
      const r = sapphire([...args, ...more], { cwd: dir, timeoutMs: 120_000 });
      expect(r.stderr).not.toMatch(/sapphire:/);
      expect(r.code).toBe(0);
      const trials = await storage.trials(`${study}.fold1of1`);
      expect(trials.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(trials.every((t) => t.state === 'complete')).toBe(true);
      // a second process asking for 9 trials adds exactly 3
      const r2 = sapphire([...args.slice(0, -4), '--trials', '9', '--folds', '1', ...more], {
        cwd: dir,
        timeoutMs: 120_000,
      });
      expect(r2.code).toBe(0);
      const after = await storage.trials(`${study}.fold1of1`);
      expect(after.map((t) => t.number)).toEqual([...Array(9).keys()]);
      expect(after.slice(0, 6)).toEqual(trials);
    } finally {
      await storage.deleteStudy(`${study}.fold1of1`);
      await storage.close();
    }
  }, 120_000); // two CLI runs on a shared 2-core machine

  it('prints its usage with --help', () => {
    const r = sapphire(['tune', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: sapphire tune');
    expect(r.stdout).toContain('--write-env');
  });
});
