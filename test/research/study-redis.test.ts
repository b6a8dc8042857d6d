import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisStorage } from '../../research/storage/redis.ts';
import { runStudy } from '../../research/study.ts';
import { RandomSampler } from '../../research/samplers/random.ts';
import { branin, BRANIN_SPACE } from '../../research/test-functions.ts';
import { isSapphireError } from '../../pipelines/errors.ts';

const URL_ = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WORKER = fileURLToPath(new URL('./kit/study-worker.ts', import.meta.url));
const PREFIX = `test-${process.pid}-${Date.now().toString(36)}`;

let storage: RedisStorage;
const studies: string[] = [];
beforeAll(async () => {
  storage = await RedisStorage.connect(URL_);
});
afterAll(async () => {
  for (const s of studies) await storage.deleteStudy(s);
  await storage.close();
});

function studyName(label: string): string {
  const s = `${PREFIX}-${label}`;
  studies.push(s);
  return s;
}

interface Proc {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  waitFor(prefix: string, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

function startWorker(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: 'pipe' });
  const lines: string[] = [];
  let buf = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    async waitFor(prefix, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = lines.find((l) => l.startsWith(prefix));
        if (hit) return hit;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`worker never printed ${prefix}; stdout ${lines.join('|')} stderr ${stderr}`);
        }
        await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 200))]);
      }
    },
  };
}

describe('Redis study storage (real server)', () => {
  it('two processes share one study: exactly N trials, none duplicated; a killed worker’s trial is re-run', async () => {
    const study = studyName('shared');
    const N = 24;
    const lease = '400';
    // a worker that reserves a trial and is then killed mid-trial (SIGKILL: no cleanup at all)
    const doomed = startWorker([URL_, study, String(N), 'doomed', lease, 'hang']);
    await doomed.waitFor('READY');
    doomed.child.stdin.write('go\n');
    const reservedLine = await doomed.waitFor('RESERVED');
    const orphan = Number(reservedLine.split(' ')[1]);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const a = startWorker([URL_, study, String(N), 'A', lease]);
    const b = startWorker([URL_, study, String(N), 'B', lease]);
    await Promise.all([a.waitFor('READY'), b.waitFor('READY')]);
    a.child.stdin.write('go\n');
    b.child.stdin.write('go\n');
    const [doneA, doneB] = await Promise.all([a.waitFor('DONE', 60_000), b.waitFor('DONE', 60_000)]);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    const mineA = (JSON.parse(doneA.slice(5)) as { mine: number[] }).mine;
    const mineB = (JSON.parse(doneB.slice(5)) as { mine: number[] }).mine;
    // every trial number ran exactly once among the survivors, the orphan included
    expect([...mineA, ...mineB].sort((x, y) => x - y)).toEqual([...Array(N).keys()]);
    expect(mineA.length).toBeGreaterThan(0);
    expect(mineB.length).toBeGreaterThan(0);

    const trials = await storage.trials(study);
    expect(trials.map((t) => t.number)).toEqual([...Array(N).keys()]);
    expect(trials.every((t) => t.state === 'complete')).toBe(true);
    const retried = trials.find((t) => t.number === orphan)!;
    expect(retried.attempts).toBe(2);
    expect(['A', 'B']).toContain(retried.worker);
    expect(retried.value).toBe(-branin(retried.params));
    // running trials were visible to the other sampler: no two processes proposed the same point
    expect(new Set(trials.map((t) => JSON.stringify(t.params))).size).toBe(N);
    // the killed worker can never land a result now
    expect(await storage.finish(study, orphan, 'doomed', { state: 'complete', value: 1e9 })).toBe(false);
  });

  it('resumes a study from Redis and keeps stored parameters exact', async () => {
    const study = studyName('resume');
    const opts = {
      storage,
      study,
      space: BRANIN_SPACE,
      objective: 'branin',
      sampler: new RandomSampler(),
      concurrency: 1,
      seed: 4,
      workerId: 'r1',
      evaluate: async (p: Record<string, unknown>) => ({ value: -branin(p as never), attrs: { note: 'x' } }),
    };
    const first = await runStudy({ ...opts, trials: 5 });
    const second = await runStudy({ ...opts, trials: 9, workerId: 'r2' });
    expect(second.map((t) => t.number)).toEqual([...Array(9).keys()]);
    expect(second.slice(0, 5).map((t) => t.params)).toEqual(first.map((t) => t.params));
    for (const t of second) expect(t.value).toBe(-branin(t.params)); // full double precision survives
    expect(second[8]!.attrs).toEqual({ note: 'x' });
  });

  it('names a Redis URL that does not answer, without its password', async () => {
    try {
      await RedisStorage.connect('redis://user:hunter2@127.0.0.1:1', { connectTimeoutMs: 500 });
      expect.unreachable();
    } catch (e) {
      expect(isSapphireError(e, 'STUDY_STORAGE')).toBe(true);
      expect((e as Error).message).toContain('127.0.0.1:1');
      expect((e as Error).message).toContain('does not answer');
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
