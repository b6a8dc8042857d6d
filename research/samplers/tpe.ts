import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';
import { argsortLikeNumpy } from './argsort.ts';
import { normalMass, sampleTruncatedNormal } from './normal.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
import { RandomSampler } from './random.ts';
import { snap, stepOf } from './space.ts';
import type { ParamValue, Params, Sampler, TrialView } from './types.ts';

/**
 * Tree-structured Parzen Estimator, following the defaults of Optuna's TPESampler (independent,
 * univariate): `nStartupTrials` random trials first; then the finished trials are split into the
 * best `gamma(n)` ("below", l) and the rest ("above", g); each parameter gets one Parzen mixture
 * per group — a truncated Gaussian per observation plus a prior kernel over the whole range,
 * bandwidths from neighbour gaps with the "magic clip", recency ramp weights — and the next value
 * is the best of `nEiCandidates` draws from l by l(x)/g(x) (expected improvement).
 * Running trials count as "above" (constant liar), so parallel workers don't pile onto one point.
 */
export interface TpeOptions {
  nStartupTrials?: number;
  nEiCandidates?: number;
  gamma?: (n: number) => number;
  weights?: (n: number) => number[];
  priorWeight?: number;
  considerMagicClip?: boolean;
  considerEndpoints?: boolean;
  /** running trials join the "above" group (default true) */
  constantLiar?: boolean;
  /**
   * one joint Parzen mixture over all parameters (kernels shared across parameters, bandwidth
   * 0.2·n^(−1/(d+4))·range as in Optuna's multivariate TPE) instead of one per parameter; captures
   * interactions between parameters (default false, like Optuna)
   */
  multivariate?: boolean;
  /**
   * score continuous kernels as Optuna 3.1 does: its truncated-normal log-density leaves out the
   * −log σ term, which weights each kernel by its bandwidth (wide kernels and the prior count more,
   * so l/g is smoother). Measured on Branin and Hartmann-6 this finds better points; false uses the
   * proper density. Default true, to match the reference implementation.
   */
  optunaKernelScale?: boolean;
}

export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/** Optuna's default_weights: flat for the 25 most recent, a linear ramp up for older ones. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

interface NumericMixture {
  kind: 'numeric';
  weights: number[];
  mus: number[];
  sigmas: number[];
  lo: number;
  hi: number;
  log: boolean;
  step: number;
  /** log of each kernel's mass inside [lo, hi] */
  logZ: number[];
  /** per kernel: log w − log Z (cell masses) and log w − log Z − log σ − log √(2π) (densities) */
  logWZ: Float64Array;
  logC: Float64Array;
  invSigma: Float64Array;
}

interface CategoricalMixture {
  kind: 'categorical';
  weights: number[];
  /** per kernel, probabilities per choice */
  probs: number[][];
}

type Mixture = NumericMixture | CategoricalMixture;

/**
 * Bounds in the sampler's working space, as Optuna sets them: a linear grid (int, or float with a
 * step) is widened by half a step and scored by cell mass; a log range is continuous in log space
 * (int log ranges widened by 0.5 before the log, float log ranges ignore any step).
 */
function workingBounds(spec: Exclude<ParamSpec, { type: 'categorical' }>): { lo: number; hi: number; step: number } {
  if (spec.log) {
    const pad = spec.type === 'int' ? 0.5 : 0;
    return { lo: Math.log(Math.max(spec.low - pad, spec.low / 2)), hi: Math.log(spec.high + pad), step: 0 };
  }
  const step = stepOf(spec);
  return { lo: spec.low - step / 2, hi: spec.high + step / 2, step };
}

function normalise(ws: number[]): number[] {
  const s = ws.reduce((a, b) => a + b, 0);
  return ws.map((w) => w / s);
}

export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  private readonly o: Required<TpeOptions>;
  private readonly random = new RandomSampler();

  constructor(options: TpeOptions = {}) {
    this.o = {
      nStartupTrials: options.nStartupTrials ?? 10,
      nEiCandidates: options.nEiCandidates ?? 24,
      gamma: options.gamma ?? defaultGamma,
      weights: options.weights ?? defaultWeights,
      priorWeight: options.priorWeight ?? 1,
      considerMagicClip: options.considerMagicClip ?? true,
      considerEndpoints: options.considerEndpoints ?? false,
      constantLiar: options.constantLiar ?? true,
      multivariate: options.multivariate ?? false,
      optunaKernelScale: options.optunaKernelScale ?? true,
    };
  }

  sample(space: SearchSpace, history: readonly TrialView[], rng: () => number): Params {
    const complete = history.filter((t) => t.state === 'complete' && t.value !== undefined && !Number.isNaN(t.value));
    if (complete.length < this.o.nStartupTrials) return this.random.sample(space, history, rng);
    // best first (maximising); ties by trial number so the split is deterministic
    const ranked = [...complete].sort((a, b) => b.value! - a.value! || a.number - b.number);
    const nBelow = Math.max(1, Math.min(ranked.length, this.o.gamma(ranked.length)));
    const byNumber = (a: TrialView, b: TrialView) => a.number - b.number;
    const below = ranked.slice(0, nBelow).sort(byNumber);
    const above = ranked.slice(nBelow);
    if (this.o.constantLiar) above.push(...history.filter((t) => t.state === 'running'));
    above.sort(byNumber);

    if (this.o.multivariate) return this.sampleJoint(space, below, above, rng);
    const out: Params = {};
    for (const name of Object.keys(space).sort()) {
      const spec = space[name]!;
      const obsBelow = below.map((t) => t.params[name]).filter((v): v is ParamValue => v !== undefined);
      const obsAbove = above.map((t) => t.params[name]).filter((v): v is ParamValue => v !== undefined);
      out[name] = this.sampleParam(spec, obsBelow, obsAbove, rng);
    }
    return out;
  }

  /** The log density (cell mass on grids) of the Parzen mixture built from `observed`, at v. */
  logMixtureDensity(spec: ParamSpec, observed: readonly ParamValue[], v: ParamValue): number {
    return this.logDensity(spec, this.mixture(spec, observed), v);
  }

  /** One parameter: draw candidates from l, keep the one with the largest log l − log g. */
  sampleParam(
    spec: ParamSpec,
    below: readonly ParamValue[],
    above: readonly ParamValue[],
    rng: () => number,
  ): ParamValue {
    const l = this.mixture(spec, below);
    const g = this.mixture(spec, above);
    let best: ParamValue | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < this.o.nEiCandidates; i++) {
      const x = this.draw(spec, l, rng);
      const score = this.logDensity(spec, l, x) - this.logDensity(spec, g, x);
      if (best === undefined || score > bestScore) {
        best = x;
        bestScore = score;
      }
    }
    return best!;
  }

  /** Multivariate: candidates drawn jointly from l's kernels, scored by the joint l(x)/g(x). */
  private sampleJoint(
    space: SearchSpace,
    below: readonly TrialView[],
    above: readonly TrialView[],
    rng: () => number,
  ): Params {
    const names = Object.keys(space).sort();
    const full = (t: TrialView) => names.every((n) => t.params[n] !== undefined);
    const b = below.filter(full);
    const a = above.filter(full);
    const d = names.length;
    const factor = (n: number) => 0.2 * Math.max(n, 1) ** (-1 / (d + 4));
    const l = names.map((n) =>
      this.mixture(
        space[n]!,
        b.map((t) => t.params[n]!),
        factor(b.length),
      ),
    );
    const g = names.map((n) =>
      this.mixture(
        space[n]!,
        a.map((t) => t.params[n]!),
        factor(a.length),
      ),
    );
    const lw = l[0]!.weights;
    const jointLog = (mixes: Mixture[], x: Params): number => {
      const w = mixes[0]!.weights;
      const acc = new Float64Array(w.length);
      for (let k = 0; k < w.length; k++) acc[k] = Math.log(w[k]!);
      mixes.forEach((m, p) => this.addComponentLogs(space[names[p]!]!, m, x[names[p]!]!, acc));
      let max = -Infinity;
      for (const v of acc) if (v > max) max = v;
      if (max === -Infinity) return -Infinity;
      let sum = 0;
      for (const v of acc) sum += Math.exp(v - max);
      return max + Math.log(sum);
    };
    let best: Params | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < this.o.nEiCandidates; i++) {
      const k = this.pickKernel(lw, rng);
      const x: Params = {};
      names.forEach((n, p) => {
        x[n] = this.drawFrom(space[n]!, l[p]!, k, rng);
      });
      const score = jointLog(l, x) - jointLog(g, x);
      if (best === undefined || score > bestScore) {
        best = x;
        bestScore = score;
      }
    }
    return best!;
  }

  /** Adds each kernel's log component density at v (weights excluded) into acc. */
  private addComponentLogs(spec: ParamSpec, m: Mixture, v: ParamValue, acc: Float64Array): void {
    if (m.kind === 'categorical') {
      if (spec.type !== 'categorical') throw new Error('mixture kind mismatch');
      const idx = spec.choices.indexOf(v);
      for (let k = 0; k < acc.length; k++) acc[k]! += Math.log(m.probs[k]![idx]!);
      return;
    }
    const x = Number(v);
    if (m.step > 0) {
      let a = x - m.step / 2;
      let b = x + m.step / 2;
      if (m.log) {
        a = Math.log(Math.max(a, Math.exp(m.lo)));
        b = Math.log(b);
      }
      a = Math.max(a, m.lo);
      b = Math.min(b, m.hi);
      for (let k = 0; k < acc.length; k++) {
        const mu = m.mus[k]!;
        const inv = m.invSigma[k]!;
        acc[k]! += Math.log(Math.max(1e-300, normalMass((a - mu) * inv, (b - mu) * inv))) - m.logZ[k]!;
      }
      return;
    }
    const y = m.log ? Math.log(x) : x;
    for (let k = 0; k < acc.length; k++) {
      const z = (y - m.mus[k]!) * m.invSigma[k]!;
      acc[k]! += -0.5 * z * z - (this.o.optunaKernelScale ? 0 : Math.log(m.sigmas[k]!)) - LOG_SQRT_2PI - m.logZ[k]!;
    }
  }

  private mixture(spec: ParamSpec, observed: readonly ParamValue[], sigmaFactor?: number): Mixture {
    const obsWeights = this.o.weights(observed.length);
    const weights = normalise([...obsWeights, this.o.priorWeight]);
    if (spec.type === 'categorical') {
      const k = spec.choices.length;
      // Optuna 3.1 (_calculate_categorical_params): every choice of every kernel gets
      // priorWeight / (n + 1) on top of the observation's 1, so the smoothing fades as n grows
      const base = this.o.priorWeight / (observed.length + 1);
      const probs: number[][] = observed.map((v) => {
        const row = new Array<number>(k).fill(base);
        const idx = spec.choices.indexOf(v);
        if (idx >= 0) row[idx]! += 1;
        return normalise(row);
      });
      probs.push(new Array<number>(k).fill(1 / k));
      return { kind: 'categorical', weights, probs };
    }
    const { lo, hi, step } = workingBounds(spec);
    const mus = observed.map((v) => (spec.log ? Math.log(Number(v)) : Number(v)));
    const priorMu = (lo + hi) / 2;
    const allMus = [...mus, priorMu];
    const n = allMus.length;
    // numpy's tie order: duplicates (grids, ints) with unequal weights get the bandwidths Optuna gives them
    const order = argsortLikeNumpy(allMus);
    const sorted = order.map((i) => allMus[i]!);
    const withEnds = [lo, ...sorted, hi];
    const sortedSigmas: number[] = [];
    for (let i = 0; i < n; i++) {
      sortedSigmas.push(
        sigmaFactor !== undefined
          ? sigmaFactor * (hi - lo)
          : Math.max(withEnds[i + 1]! - withEnds[i]!, withEnds[i + 2]! - withEnds[i + 1]!),
      );
    }
    if (sigmaFactor === undefined && !this.o.considerEndpoints && n >= 2) {
      sortedSigmas[0] = withEnds[2]! - withEnds[1]!;
      sortedSigmas[n - 1] = withEnds[n]! - withEnds[n - 1]!;
    }
    const maxSigma = hi - lo;
    const minSigma = this.o.considerMagicClip ? (hi - lo) / Math.min(100, 1 + n) : 1e-12;
    const sigmas = new Array<number>(n);
    order.forEach((idx, pos) => {
      sigmas[idx] = Math.min(maxSigma, Math.max(minSigma, sortedSigmas[pos]!));
    });
    sigmas[n - 1] = hi - lo; // the prior kernel spans the range
    const logZ = allMus.map((mu, i) =>
      Math.log(Math.max(1e-300, normalMass((lo - mu) / sigmas[i]!, (hi - mu) / sigmas[i]!))),
    );
    const logWZ = new Float64Array(n);
    const logC = new Float64Array(n);
    const invSigma = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      logWZ[k] = Math.log(weights[k]!) - logZ[k]!;
      logC[k] = logWZ[k]! - (this.o.optunaKernelScale ? 0 : Math.log(sigmas[k]!)) - LOG_SQRT_2PI;
      invSigma[k] = 1 / sigmas[k]!;
    }
    return {
      kind: 'numeric',
      weights,
      mus: allMus,
      sigmas,
      lo,
      hi,
      log: spec.log === true,
      step,
      logZ,
      logWZ,
      logC,
      invSigma,
    };
  }

  private pickKernel(weights: readonly number[], rng: () => number): number {
    let u = rng();
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  private draw(spec: ParamSpec, m: Mixture, rng: () => number): ParamValue {
    return this.drawFrom(spec, m, this.pickKernel(m.weights, rng), rng);
  }

  private drawFrom(spec: ParamSpec, m: Mixture, k: number, rng: () => number): ParamValue {
    if (m.kind === 'categorical') {
      if (spec.type !== 'categorical') throw new Error('mixture kind mismatch');
      return spec.choices[this.pickKernel(m.probs[k]!, rng)]!;
    }
    const x = sampleTruncatedNormal(m.mus[k]!, m.sigmas[k]!, m.lo, m.hi, rng);
    return snap(spec, m.log ? Math.exp(x) : x);
  }

  private logDensity(spec: ParamSpec, m: Mixture, v: ParamValue): number {
    if (m.kind === 'categorical') {
      if (spec.type !== 'categorical') throw new Error('mixture kind mismatch');
      const idx = spec.choices.indexOf(v);
      let p = 0;
      for (let k = 0; k < m.weights.length; k++) p += m.weights[k]! * m.probs[k]![idx]!;
      return Math.log(p);
    }
    const x = Number(v);
    // streaming log-sum-exp over the kernels (no arrays: this is the sampler's hot loop)
    let max = -Infinity;
    let sum = 0;
    const n = m.mus.length;
    if (m.step > 0) {
      // probability mass of the grid cell around x
      let a = x - m.step / 2;
      let b = x + m.step / 2;
      if (m.log) {
        a = Math.log(Math.max(a, Math.exp(m.lo)));
        b = Math.log(b);
      }
      a = Math.max(a, m.lo);
      b = Math.min(b, m.hi);
      for (let k = 0; k < n; k++) {
        const mu = m.mus[k]!;
        const inv = m.invSigma[k]!;
        const t = m.logWZ[k]! + Math.log(Math.max(1e-300, normalMass((a - mu) * inv, (b - mu) * inv)));
        if (t <= max) sum += Math.exp(t - max);
        else {
          sum = sum * Math.exp(max - t) + 1;
          max = t;
        }
      }
    } else {
      const y = m.log ? Math.log(x) : x;
      for (let k = 0; k < n; k++) {
        const z = (y - m.mus[k]!) * m.invSigma[k]!;
        const t = m.logC[k]! - 0.5 * z * z;
        if (t <= max) sum += Math.exp(t - max);
        else {
          sum = sum * Math.exp(max - t) + 1;
          max = t;
        }
      }
    }
    return max === -Infinity ? -Infinity : max + Math.log(sum);
  }
}

export function createSampler(name: 'tpe' | 'random', options?: TpeOptions): Sampler {
  return name === 'tpe' ? new TpeSampler(options) : new RandomSampler();
}
