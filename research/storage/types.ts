import type { SearchSpace } from '../../pipelines/search-space.ts';
import type { Params } from '../samplers/types.ts';

export type TrialState = 'running' | 'complete' | 'failed';

/** One trial as stored. `number` is unique in a study; a stale trial keeps its number when re-run. */
export interface TrialRecord {
  number: number;
  state: TrialState;
  params: Params;
  /** the value the sampler maximises (penalised when infeasible) */
  value?: number;
  /** anything else the trial reports (metrics, raw objective, error text) */
  attrs?: Record<string, unknown>;
  /** worker currently owning a running trial, or the one that finished it */
  worker: string;
  /** heartbeat time (storage clock, ms) */
  heartbeatAt: number;
  /** 1 on first run, +1 each time a stale trial is taken over */
  attempts: number;
}

export interface StudyMeta {
  name: string;
  space: SearchSpace;
  objective: string;
  /** free-form context (data window, fold, settings digest) */
  context?: Record<string, unknown>;
}

export interface TrialResult {
  state: 'complete' | 'failed';
  value?: number;
  attrs?: Record<string, unknown>;
}

/**
 * Where studies live. Every mutating call is atomic with respect to other processes sharing the
 * storage: `reserve` never lets a study exceed `maxTrials` records, `claimStale` hands a stale
 * trial to exactly one taker, `finish` only lands for the current owner (so a late result from a
 * worker that lost its lease is dropped, never duplicated).
 */
export interface StudyStorage {
  readonly description: string;
  /** creates the study or returns the stored one (whose parameter names must match) */
  openStudy(meta: StudyMeta): Promise<StudyMeta>;
  trials(study: string): Promise<TrialRecord[]>;
  /** a new running trial with the next number, or null when the study already has maxTrials */
  reserve(study: string, params: Params, worker: string, maxTrials: number): Promise<TrialRecord | null>;
  /** takes over the oldest running trial whose heartbeat is older than leaseMs, if any */
  claimStale(study: string, worker: string, leaseMs: number): Promise<TrialRecord | null>;
  /** false when the worker no longer owns the trial */
  heartbeat(study: string, number: number, worker: string): Promise<boolean>;
  /** false (and nothing written) when the worker no longer owns the running trial */
  finish(study: string, number: number, worker: string, result: TrialResult): Promise<boolean>;
  close(): Promise<void>;
}

export function sameParamNames(a: SearchSpace, b: SearchSpace): boolean {
  const x = Object.keys(a).sort();
  const y = Object.keys(b).sort();
  return x.length === y.length && x.every((k, i) => k === y[i]);
}
