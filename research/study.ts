import { createRng, deriveSeed } from '../pipelines/rng.ts';
import type { SearchSpace } from '../pipelines/search-space.ts';
import type { Params, Sampler, TrialView } from './samplers/types.ts';
import type { StudyStorage, TrialRecord, TrialResult } from './storage/types.ts';

export interface Evaluation {
  value: number;
  attrs?: Record<string, unknown>;
}

export interface RunStudyOptions {
  storage: StudyStorage;
  study: string;
  space: SearchSpace;
  objective: string;
  sampler: Sampler;
  /** the study's total trial count (shared by every process that joins it) */
  trials: number;
  /** trials this process runs at once */
  concurrency: number;
  evaluate: (params: Params, trial: TrialRecord) => Promise<Evaluation>;
  seed: number;
  /** names this process in the storage; must differ between processes sharing a study */
  workerId: string;
  /** a running trial whose heartbeat is older than this is taken over (default 60 s) */
  leaseMs?: number;
  /** heartbeat period (default leaseMs / 4) */
  heartbeatMs?: number;
  /** how often to look again while other processes finish their trials (default leaseMs / 4) */
  pollMs?: number;
  context?: Record<string, unknown>;
  onTrial?: (trial: TrialRecord, all: readonly TrialRecord[]) => void;
  /** a trial the sampler may not see beyond this (stops waiting on others after this long, ms) */
  maxWaitMs?: number;
}

export function toView(t: TrialRecord): TrialView {
  return { number: t.number, state: t.state, params: t.params, value: t.value };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Serialises async sections (sampling + reserving) between the slots of one process. */
function mutex() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * Runs (or joins, or resumes) a study until it holds `trials` finished trials. Each slot loops:
 * take over a stale trial if there is one, else sample from the shared history (running trials
 * included) and reserve the next number; evaluate with a heartbeat; record the result if it
 * still owns the trial. With the whole budget reserved, it waits for the other workers' trials,
 * taking over any whose heartbeat stops.
 */
export async function runStudy(o: RunStudyOptions): Promise<TrialRecord[]> {
  const leaseMs = o.leaseMs ?? 60_000;
  const heartbeatMs = o.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 4));
  const pollMs = o.pollMs ?? Math.max(10, Math.floor(leaseMs / 4));
  const maxWaitMs = o.maxWaitMs ?? Math.max(10 * leaseMs, 600_000);
  await o.storage.openStudy({ name: o.study, space: o.space, objective: o.objective, context: o.context });
  const exclusive = mutex();

  async function next(): Promise<TrialRecord | 'done' | 'wait'> {
    return exclusive(async () => {
      const stale = await o.storage.claimStale(o.study, o.workerId, leaseMs);
      if (stale) return stale;
      const all = await o.storage.trials(o.study);
      if (all.length >= o.trials) {
        // running trials of this process finish in its other slots; only others' need watching
        return all.some((t) => t.state === 'running' && t.worker !== o.workerId) ? 'wait' : 'done';
      }
      const rng = createRng(deriveSeed(o.seed, `${o.study}#${all.length}@${o.workerId}`));
      const params = o.sampler.sample(o.space, all.map(toView), rng);
      const reserved = await o.storage.reserve(o.study, params, o.workerId, o.trials);
      return reserved ?? 'wait';
    });
  }

  async function runOne(trial: TrialRecord): Promise<void> {
    let owned = true;
    const beat = setInterval(() => {
      o.storage.heartbeat(o.study, trial.number, o.workerId).then(
        (ok) => {
          if (!ok) owned = false;
        },
        () => undefined,
      );
    }, heartbeatMs);
    let result: TrialResult;
    try {
      const e = await o.evaluate(trial.params, trial);
      result = { state: 'complete', value: e.value, attrs: e.attrs };
    } catch (error) {
      result = { state: 'failed', attrs: { error: error instanceof Error ? error.message : String(error) } };
    } finally {
      clearInterval(beat);
    }
    if (!owned) return;
    const landed = await o.storage.finish(o.study, trial.number, o.workerId, result);
    if (landed && o.onTrial) {
      const all = await o.storage.trials(o.study);
      o.onTrial(all.find((t) => t.number === trial.number) ?? trial, all);
    }
  }

  async function slot(): Promise<void> {
    let waitingSince: number | null = null;
    for (;;) {
      const t = await next();
      if (t === 'done') return;
      if (t === 'wait') {
        waitingSince ??= Date.now();
        if (Date.now() - waitingSince > maxWaitMs) return;
        await sleep(pollMs);
        continue;
      }
      waitingSince = null;
      await runOne(t);
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, () => slot()));
  return o.storage.trials(o.study);
}

/** The best finished trial: feasible ones first, then by value; null when none finished. */
export function bestTrial(trials: readonly TrialRecord[]): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const t of trials) {
    if (t.state !== 'complete' || t.value === undefined) continue;
    if (!best || t.value > best.value! || (t.value === best.value && t.number < best.number)) best = t;
  }
  return best;
}
