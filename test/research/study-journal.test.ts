import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JournalStorage } from '../../research/storage/journal.ts';
import { bestTrial, runStudy } from '../../research/study.ts';
import { TpeSampler } from '../../research/samplers/tpe.ts';
import { RandomSampler } from '../../research/samplers/random.ts';
import { branin, BRANIN_SPACE } from '../../research/test-functions.ts';
import type { Params } from '../../research/samplers/types.ts';
import type { TrialRecord } from '../../research/storage/types.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sapphire-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const evaluate = async (p: Params) => ({ value: -branin(p), attrs: { f: branin(p) } });

function base(storage: JournalStorage, trials: number, extra: Partial<Parameters<typeof runStudy>[0]> = {}) {
  return {
    storage,
    study: 'branin',
    space: BRANIN_SPACE,
    objective: 'branin',
    sampler: new TpeSampler(),
    trials,
    concurrency: 1,
    evaluate,
    seed: 7,
    workerId: 'w1',
    ...extra,
  };
}

function expectExactlyNumbered(trials: TrialRecord[], n: number) {
  expect(trials.map((t) => t.number)).toEqual([...Array(n).keys()]);
  expect(trials.every((t) => t.state === 'complete')).toBe(true);
}

const WORKER = fileURLToPath(new URL('./kit/study-worker.ts', import.meta.url));

describe('journal study storage', () => {
  it('two processes share one journal file: exactly N trials, none duplicated', async () => {
    const path = join(dir, 'shared.jsonl');
    const N = 20;
    const start = (id: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER, path, 'shared', String(N), id, '60000'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
      return { child, exit, out: () => out };
    };
    const a = start('A');
    const b = start('B');
    // both wait for a line on stdin once connected; start them together (bounded wait for READY)
    for (let i = 0; i < 300 && !(a.out().includes('READY') && b.out().includes('READY')); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(a.out()).toContain('READY');
    expect(b.out()).toContain('READY');
    a.child.stdin.write('go\n');
    b.child.stdin.write('go\n');
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
    const mine = (o: string) => (JSON.parse(/DONE (.*)/.exec(o)![1]!) as { mine: number[] }).mine;
    expect([...mine(a.out()), ...mine(b.out())].sort((x, y) => x - y)).toEqual([...Array(N).keys()]);
    const trials = await new JournalStorage(path).trials('shared');
    expectExactlyNumbered(trials, N);
    expect(new Set(trials.map((t) => JSON.stringify(t.params))).size).toBe(N);
  });

  it('runs a study, and a second run resumes it from the file without redoing trials', async () => {
    const path = join(dir, 'study.jsonl');
    const first = await runStudy(base(new JournalStorage(path), 12));
    expectExactlyNumbered(first, 12);
    // a fresh process (new storage object) resumes to 30
    const second = await runStudy(base(new JournalStorage(path), 30));
    expectExactlyNumbered(second, 30);
    expect(second.slice(0, 12)).toEqual(first);
    // the journal is append-only JSONL: one study line, then reserve/finish pairs
    const ops = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string });
    expect(ops[0]!.op).toBe('study');
    expect(ops.filter((o) => o.op === 'reserve')).toHaveLength(30);
    expect(ops.filter((o) => o.op === 'finish')).toHaveLength(30);
  });

  it('is reproducible: the same seed gives the same trials', async () => {
    const a = await runStudy(base(new JournalStorage(join(dir, 'a.jsonl')), 20));
    const b = await runStudy(base(new JournalStorage(join(dir, 'b.jsonl')), 20));
    expect(b.map((t) => t.params)).toEqual(a.map((t) => t.params));
    const c = await runStudy(base(new JournalStorage(join(dir, 'c.jsonl')), 20, { seed: 8 }));
    expect(c.map((t) => t.params)).not.toEqual(a.map((t) => t.params));
  });

  it('survives a crash mid-line: the torn last line is cut and the study goes on', async () => {
    const path = join(dir, 'torn.jsonl');
    await runStudy(base(new JournalStorage(path), 5));
    appendFileSync(path, '{"op":"reserve","study":"branin","number":5,"par');
    const resumed = await runStudy(base(new JournalStorage(path), 8));
    expectExactlyNumbered(resumed, 8);
    // the torn fragment is gone, so every line parses and a later process replays the file
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.endsWith('"par'))).toHaveLength(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expectExactlyNumbered(await runStudy(base(new JournalStorage(path), 8)), 8);
  });

  it('names the file and line of a damaged complete line instead of a bare JSON error', async () => {
    const path = join(dir, 'damaged.jsonl');
    await runStudy(base(new JournalStorage(path), 2));
    const garbageLine = readFileSync(path, 'utf8').split('\n').length;
    appendFileSync(path, 'garbage\n');
    await expect(runStudy(base(new JournalStorage(path), 3))).rejects.toThrow(
      `STUDY_STORAGE: ${path}:${garbageLine}: study journal line is not JSON`,
    );
  });

  it('re-runs a trial whose worker stopped heart-beating, under the same number', async () => {
    const path = join(dir, 'stale.jsonl');
    const storage = new JournalStorage(path);
    await storage.openStudy({ name: 'branin', space: BRANIN_SPACE, objective: 'branin' });
    const orphan = await storage.reserve('branin', { x1: 1, x2: 2 }, 'dead-worker', 6);
    expect(orphan?.number).toBe(0);
    const trials = await runStudy(base(storage, 6, { leaseMs: 30, pollMs: 10, sampler: new RandomSampler() }));
    expectExactlyNumbered(trials, 6);
    expect(trials[0]!.params).toEqual({ x1: 1, x2: 2 });
    expect(trials[0]!.attempts).toBe(2);
    expect(trials[0]!.worker).toBe('w1');
    // the dead worker's late result is refused: no duplicate, no overwrite
    expect(await storage.finish('branin', 0, 'dead-worker', { state: 'complete', value: 99 })).toBe(false);
    expect((await storage.trials('branin'))[0]!.value).toBe(trials[0]!.value);
  });

  it('runs several trials at once in one process and never exceeds the budget', async () => {
    const storage = new JournalStorage(join(dir, 'conc.jsonl'));
    let running = 0;
    let peak = 0;
    const slow = async (p: Params) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return evaluate(p);
    };
    const trials = await runStudy(base(storage, 17, { concurrency: 3, evaluate: slow }));
    expectExactlyNumbered(trials, 17);
    expect(peak).toBe(3);
    // sampled while others ran: no two identical points
    expect(new Set(trials.map((t) => JSON.stringify(t.params))).size).toBe(17);
  });

  it('records a throwing trial as failed and still finishes the study', async () => {
    const storage = new JournalStorage(join(dir, 'fail.jsonl'));
    const flaky = async (p: Params, t: TrialRecord) => {
      if (t.number === 2) throw new Error('backtest blew up');
      return evaluate(p);
    };
    const trials = await runStudy(base(storage, 5, { evaluate: flaky }));
    expect(trials.map((t) => t.state)).toEqual(['complete', 'complete', 'failed', 'complete', 'complete']);
    expect(trials[2]!.attrs).toEqual({ error: 'backtest blew up' });
    expect(bestTrial(trials)!.state).toBe('complete');
  });

  it('refuses to reuse a study name for other parameters', async () => {
    const storage = new JournalStorage(join(dir, 'other.jsonl'));
    await runStudy(base(storage, 2));
    await expect(runStudy(base(storage, 2, { space: { x1: BRANIN_SPACE.x1! } }))).rejects.toThrow(
      /study branin .* tunes x1,x2/,
    );
  });
});
