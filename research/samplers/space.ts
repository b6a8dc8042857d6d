import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import type { ParamValue } from './types.ts';

/** Checks one declared range: finite, low < high, log ranges positive, int bounds whole. */
export function validateSpec(name: string, spec: ParamSpec): void {
  const bad = (why: string): never => {
    throw new SapphireError('TUNING_SPACE_INVALID', `${name}: ${why}`);
  };
  if (spec.type === 'categorical') {
    if (spec.choices.length === 0) bad('no choices');
    return;
  }
  if (!Number.isFinite(spec.low) || !Number.isFinite(spec.high))
    bad(`bounds must be finite (${spec.low}..${spec.high})`);
  if (!(spec.low < spec.high)) bad(`empty or inverted range ${spec.low}..${spec.high}`);
  if (spec.log && spec.low <= 0) bad(`log range needs low > 0 (got ${spec.low})`);
  if (spec.step !== undefined && !(spec.step > 0)) bad(`step must be > 0 (got ${spec.step})`);
  if (spec.type === 'int' && (!Number.isInteger(spec.low) || !Number.isInteger(spec.high))) {
    bad(`int range needs whole bounds (${spec.low}..${spec.high})`);
  }
}

export function validateSpace(space: SearchSpace): void {
  const names = Object.keys(space);
  if (names.length === 0) throw new SapphireError('TUNING_SPACE_INVALID', 'no parameters to tune');
  for (const n of names) validateSpec(n, space[n]!);
}

/** The grid step of a numeric parameter (1 for int without step), or 0 for continuous. */
export function stepOf(spec: ParamSpec): number {
  if (spec.type === 'categorical') return 0;
  if (spec.step !== undefined) return spec.step;
  return spec.type === 'int' ? 1 : 0;
}

/** Snaps a number into the declared range and grid (log ranges snap in value space). */
export function snap(spec: ParamSpec, x: number): ParamValue {
  if (spec.type === 'categorical') return spec.choices[Math.max(0, Math.min(spec.choices.length - 1, Math.round(x)))]!;
  const step = stepOf(spec);
  let v = Math.min(spec.high, Math.max(spec.low, x));
  if (step > 0) {
    v = spec.low + Math.round((v - spec.low) / step) * step;
    if (v > spec.high + 1e-12) v -= step;
    // keep decimal steps tidy (0.1 + 0.2 …)
    const decimals = Math.min(12, Math.max(0, -Math.floor(Math.log10(step)) + 3));
    v = Number(v.toFixed(decimals));
  }
  if (spec.type === 'int') v = Math.round(v);
  return v;
}

/** True when a stored value is a legal point of the spec (used when resuming a study). */
export function contains(spec: ParamSpec, v: ParamValue): boolean {
  if (spec.type === 'categorical') return spec.choices.includes(v);
  return typeof v === 'number' && v >= spec.low && v <= spec.high;
}
