import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SapphireError } from '../../pipelines/errors.ts';
import { JsonLinesAppender, readJsonLines, START, type JsonLinesCursor } from '../../pipelines/jsonl-log.ts';
import type { Params } from '../samplers/types.ts';
import { sameParamNames, type StudyMeta, type StudyStorage, type TrialRecord, type TrialResult } from './types.ts';

type Op =
  | { op: 'study'; study: string; meta: StudyMeta }
  | { op: 'reserve'; study: string; number: number; params: Params; worker: string; at: number }
  | { op: 'claim'; study: string; number: number; worker: string; at: number }
  | { op: 'beat'; study: string; number: number; worker: string; at: number }
  | ({ op: 'finish'; study: string; number: number; worker: string; at: number } & TrialResult);

interface StudyState {
  meta: StudyMeta;
  trials: Map<number, TrialRecord>;
}

const LABEL = { what: 'study journal', code: 'STUDY_STORAGE' } as const;
const LOCK_STALE_MS = 10_000;
const LOCK_TRIES = 2_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A study journal: one append-only JSONL file of operations, replayed into state. Each mutation
 * takes an exclusive lock file, reads what other processes appended since, checks its rule on
 * the fresh state, appends one line and fsyncs — so processes on one host can share a study, and
 * a crash loses at most the line being written (the JSON-lines rule of pipelines/jsonl-log.ts:
 * the next writer, holding the lock, cuts the torn line off).
 */
export class JournalStorage implements StudyStorage {
  readonly description: string;
  private readonly studies = new Map<string, StudyState>();
  private read: JsonLinesCursor = START;

  constructor(private readonly path: string) {
    this.description = `journal ${path}`;
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) closeSync(openSync(path, 'a'));
  }

  private withLock<T>(fn: () => T): T {
    const lock = `${this.path}.lock`;
    for (let i = 0; ; i++) {
      try {
        closeSync(openSync(lock, 'wx'));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SapphireError('STUDY_STORAGE', `${lock}: ${(error as Error).message}`);
        }
        try {
          // a holder that died leaves its lock behind: break it once it is clearly abandoned
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true });
        } catch {
          /* removed meanwhile */
        }
        if (i >= LOCK_TRIES)
          throw new SapphireError('STUDY_STORAGE', `${lock}: still locked after ${LOCK_TRIES} tries`);
        sleepSync(5);
      }
    }
    try {
      return fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  /** Reads lines appended since the last read (by anyone) and applies them. */
  private refresh(): void {
    const chunk = readJsonLines(this.path, LABEL, this.read);
    this.read = chunk;
    for (const line of chunk.lines) this.apply(line.value as Op);
  }

  /** Appends one operation; called holding the lock, so a torn tail is a dead writer's. */
  private append(op: Op): void {
    const log = new JsonLinesAppender(this.path, LABEL);
    try {
      log.append(op);
    } finally {
      log.close();
    }
    this.refresh();
  }

  private apply(op: Op): void {
    if (op.op === 'study') {
      if (!this.studies.has(op.study)) this.studies.set(op.study, { meta: op.meta, trials: new Map() });
      return;
    }
    const s = this.studies.get(op.study);
    if (!s) return;
    if (op.op === 'reserve') {
      s.trials.set(op.number, {
        number: op.number,
        state: 'running',
        params: op.params,
        worker: op.worker,
        heartbeatAt: op.at,
        attempts: 1,
      });
      return;
    }
    const t = s.trials.get(op.number);
    if (!t) return;
    if (op.op === 'claim') {
      t.worker = op.worker;
      t.heartbeatAt = op.at;
      t.attempts += 1;
    } else if (op.op === 'beat') {
      t.heartbeatAt = op.at;
    } else {
      t.state = op.state;
      t.value = op.value;
      t.attrs = op.attrs;
      t.heartbeatAt = op.at;
    }
  }

  private state(study: string): StudyState {
    const s = this.studies.get(study);
    if (!s) throw new SapphireError('STUDY_STORAGE', `study ${study} is not open in ${this.path}`);
    return s;
  }

  async openStudy(meta: StudyMeta): Promise<StudyMeta> {
    return this.withLock(() => {
      this.refresh();
      const existing = this.studies.get(meta.name);
      if (existing) {
        if (!sameParamNames(existing.meta.space, meta.space) || existing.meta.objective !== meta.objective) {
          throw new SapphireError(
            'STUDY_STORAGE',
            `study ${meta.name} in ${this.path} tunes ${Object.keys(existing.meta.space).join(',')} for ${existing.meta.objective}; ` +
              `asked for ${Object.keys(meta.space).join(',')} for ${meta.objective} (use another --study name)`,
          );
        }
        return existing.meta;
      }
      this.append({ op: 'study', study: meta.name, meta });
      return meta;
    });
  }

  async trials(study: string): Promise<TrialRecord[]> {
    this.refresh();
    return [...this.state(study).trials.values()].sort((a, b) => a.number - b.number).map((t) => ({ ...t }));
  }

  async reserve(study: string, params: Params, worker: string, maxTrials: number): Promise<TrialRecord | null> {
    return this.withLock(() => {
      this.refresh();
      const s = this.state(study);
      if (s.trials.size >= maxTrials) return null;
      const number = s.trials.size === 0 ? 0 : Math.max(...s.trials.keys()) + 1;
      this.append({ op: 'reserve', study, number, params, worker, at: Date.now() });
      return { ...s.trials.get(number)! };
    });
  }

  async claimStale(study: string, worker: string, leaseMs: number): Promise<TrialRecord | null> {
    return this.withLock(() => {
      this.refresh();
      const now = Date.now();
      const stale = [...this.state(study).trials.values()]
        .filter((t) => t.state === 'running' && now - t.heartbeatAt > leaseMs)
        .sort((a, b) => a.number - b.number)[0];
      if (!stale) return null;
      this.append({ op: 'claim', study, number: stale.number, worker, at: now });
      return { ...stale };
    });
  }

  async heartbeat(study: string, number: number, worker: string): Promise<boolean> {
    return this.withLock(() => {
      this.refresh();
      const t = this.state(study).trials.get(number);
      if (!t || t.state !== 'running' || t.worker !== worker) return false;
      this.append({ op: 'beat', study, number, worker, at: Date.now() });
      return true;
    });
  }

  async finish(study: string, number: number, worker: string, result: TrialResult): Promise<boolean> {
    return this.withLock(() => {
      this.refresh();
      const t = this.state(study).trials.get(number);
      if (!t || t.state !== 'running' || t.worker !== worker) return false;
      this.append({ op: 'finish', study, number, worker, at: Date.now(), ...result });
      return true;
    });
  }

  async close(): Promise<void> {}
}
