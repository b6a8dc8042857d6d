import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

/** What a sampler sees of a trial: finished trials carry a value (higher is better). */
export interface TrialView {
  readonly number: number;
  readonly state: 'running' | 'complete' | 'failed';
  readonly params: Readonly<Params>;
  /** the objective value to maximise (already penalised when a constraint failed) */
  readonly value?: number;
}

/** Proposes the next point of a search space from the history (complete and running trials). */
export interface Sampler {
  readonly name: string;
  sample(space: SearchSpace, history: readonly TrialView[], rng: () => number): Params;
}

export type { ParamSpec, SearchSpace };
