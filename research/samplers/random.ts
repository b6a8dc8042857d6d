import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';
import { snap, stepOf } from './space.ts';
import type { ParamValue, Params, Sampler } from './types.ts';

/** One uniform draw from a declared range: log-uniform for log ranges, uniform over the grid for steps. */
export function sampleUniform(spec: ParamSpec, rng: () => number): ParamValue {
  if (spec.type === 'categorical') return spec.choices[Math.floor(rng() * spec.choices.length)]!;
  const step = stepOf(spec);
  if (spec.log) {
    // widen by half a step in log space so the end points are as likely as the rest
    const lo = Math.log(step > 0 ? Math.max(spec.low - step / 2, spec.low / 2) : spec.low);
    const hi = Math.log(step > 0 ? spec.high + step / 2 : spec.high);
    return snap(spec, Math.exp(lo + rng() * (hi - lo)));
  }
  if (step > 0) {
    const n = Math.floor((spec.high - spec.low) / step + 1e-9) + 1;
    return snap(spec, spec.low + Math.floor(rng() * n) * step);
  }
  return snap(spec, spec.low + rng() * (spec.high - spec.low));
}

/** Random search: every parameter drawn independently and uniformly, history ignored. */
export class RandomSampler implements Sampler {
  readonly name = 'random';
  sample(space: SearchSpace, _history: unknown, rng: () => number): Params {
    const out: Params = {};
    for (const name of Object.keys(space).sort()) out[name] = sampleUniform(space[name]!, rng);
    return out;
  }
}
