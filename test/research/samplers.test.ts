import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { argsortLikeNumpy } from '../../research/samplers/argsort.ts';
import { createRng } from '../../pipelines/rng.ts';
import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';
import { SEARCH_SPACE } from '../../pipelines/settings.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { RandomSampler, sampleUniform } from '../../research/samplers/random.ts';
import { TpeSampler, defaultWeights, defaultGamma } from '../../research/samplers/tpe.ts';
import { validateSpace } from '../../research/samplers/space.ts';
import type { ParamValue, Params, Sampler, TrialView } from '../../research/samplers/types.ts';
import { OPTUNA_PY, optunaLogPdf } from './kit/optuna.ts';
import { inversePhi, phi, sampleTruncatedNormal } from '../../research/samplers/normal.ts';
import { branin, BRANIN_MIN, BRANIN_SPACE } from '../../research/test-functions.ts';

/** Minimises f with a sampler for n trials; returns the best value and the history. */
function minimise(sampler: Sampler, space: SearchSpace, f: (p: Params) => number, seed: number, n: number) {
  const rng = createRng(seed);
  const history: TrialView[] = [];
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const params = sampler.sample(space, history, rng);
    const v = f(params);
    best = Math.min(best, v);
    history.push({ number: i, state: 'complete', params, value: -v });
  }
  return { best, history };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

const MIXED: SearchSpace = {
  f: { type: 'float', low: -2, high: 3 },
  lg: { type: 'float', low: 0.001, high: 10, log: true },
  i: { type: 'int', low: 2, high: 9 },
  il: { type: 'int', low: 1, high: 1000, log: true },
  st: { type: 'float', low: 0, high: 1, step: 0.25 },
  c: { type: 'categorical', choices: ['a', 'b', 'c'] },
};

function checkInSpace(p: Params) {
  expect(Number(p.f)).toBeGreaterThanOrEqual(-2);
  expect(Number(p.f)).toBeLessThanOrEqual(3);
  expect(Number(p.lg)).toBeGreaterThanOrEqual(0.001);
  expect(Number(p.lg)).toBeLessThanOrEqual(10);
  expect(Number.isInteger(p.i)).toBe(true);
  expect(Number(p.i)).toBeGreaterThanOrEqual(2);
  expect(Number(p.i)).toBeLessThanOrEqual(9);
  expect(Number.isInteger(p.il)).toBe(true);
  expect(Number(p.il)).toBeGreaterThanOrEqual(1);
  expect(Number(p.il)).toBeLessThanOrEqual(1000);
  expect([0, 0.25, 0.5, 0.75, 1]).toContain(p.st);
  expect(['a', 'b', 'c']).toContain(p.c);
}

describe('random sampler', () => {
  it('stays inside every kind of range and is reproducible with a seed', () => {
    const s = new RandomSampler();
    const a = createRng(7);
    const b = createRng(7);
    for (let i = 0; i < 300; i++) {
      const p = s.sample(MIXED, [], a);
      checkInSpace(p);
      expect(s.sample(MIXED, [], b)).toEqual(p);
    }
  });

  it('draws log ranges log-uniformly and reaches both ends of grids', () => {
    const rng = createRng(3);
    const lg = [];
    const grid = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      lg.push(Number(sampleUniform(MIXED.lg!, rng)));
      grid.add(Number(sampleUniform(MIXED.i!, rng)));
    }
    // log-uniform on [1e-3, 10]: a quarter of the mass lies below 0.01
    const belowCentiles = lg.filter((x) => x < 0.01).length / lg.length;
    expect(belowCentiles).toBeGreaterThan(0.18);
    expect(belowCentiles).toBeLessThan(0.32);
    expect([...grid].sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('TPE sampler', () => {
  it('uses Optuna-like defaults for gamma and weights', () => {
    expect(defaultGamma(10)).toBe(1);
    expect(defaultGamma(100)).toBe(10);
    expect(defaultGamma(1000)).toBe(25);
    expect(defaultWeights(10)).toEqual(new Array(10).fill(1));
    const w = defaultWeights(50);
    expect(w).toHaveLength(50);
    expect(w[0]).toBeCloseTo(1 / 50);
    expect(w.slice(25)).toEqual(new Array(25).fill(1));
    for (let i = 1; i < 25; i++) expect(w[i]!).toBeGreaterThan(w[i - 1]!);
  });

  it('builds the same Parzen densities as Optuna 3.1 (values computed with python3-optuna 3.1.0)', () => {
    const obs = [3.477, 3.46, 3.621, 3.63, -1.2, 7.9];
    const cases: [ParamSpec, number[], [number, number][]][] = [
      [
        { type: 'float', low: -5, high: 10 },
        obs,
        [
          [3.5, -0.7748723359776073],
          [-4, -1.606949613654849],
          [9.9, -1.4755274800613158],
        ],
      ],
      [
        { type: 'float', low: 0.01, high: 100, log: true },
        obs.map((v) => Math.abs(v) + 0.1),
        [
          [0.02, -1.9944882729690543],
          [3.5, -0.7770808651515899],
          [90, -1.9432954896550532],
        ],
      ],
      [
        { type: 'int', low: -5, high: 10 },
        obs.map((v) => Math.round(v)),
        [
          [3, -2.0901491645508186],
          [-5, -3.957988851923025],
          [10, -3.473884014450118],
        ],
      ],
      [
        { type: 'int', low: 12, high: 864, log: true },
        [12, 30, 31, 200, 700, 15],
        [
          [12, -0.9025046426810879],
          [31, -0.9762567200669102],
          [864, -1.327958235666343],
        ],
      ],
    ];
    const tpe = new TpeSampler();
    for (const [spec, observed, points] of cases) {
      for (const [x, expected] of points) expect(tpe.logMixtureDensity(spec, observed, x)).toBeCloseTo(expected, 5);
    }
  });

  it('builds the same categorical, step, int-step and ramp-weighted densities as Optuna 3.1 (python3-optuna 3.1.0)', () => {
    // categorical kernels: each observation adds 1 to its choice on top of priorWeight/(n+1) for
    // every choice (Optuna 3.1's _calculate_categorical_params), the prior kernel is uniform
    const cat30 = [1, 2, 2, 3, 1, 1, 2, 3, 3, 3, 1, 2, 1, 1, 1, 2, 3, 1, 2, 2, 1, 3, 1, 1, 2, 2, 1, 1, 3, 1];
    const float27 = [
      3.477, 3.46, 3.621, 3.63, -1.2, 7.9, 0.1, 0.2, -4.5, 9.1, 2.2, 2.3, 5.5, 6.1, -3.3, 1.1, 1.2, 1.3, 4.4, 4.5, 8.8,
      -2.2, 0.0, 3.3, 3.4, 2.9, 7.1,
    ];
    const cases: [ParamSpec, ParamValue[], [ParamValue, number][]][] = [
      [
        { type: 'categorical', choices: ['x', 'y', 'z', 'w'] },
        ['x', 'y', 'y', 'w', 'y', 'z'],
        [
          ['x', -1.5869650565820415],
          ['y', -0.9509762898620451],
          ['z', -1.586965056582042],
          ['w', -1.586965056582042],
        ],
      ],
      [
        { type: 'categorical', choices: [1, 2, 3] },
        cat30,
        [
          [1, -0.7857274251360596],
          [2, -1.2427591523313335],
          [3, -1.3640433328766737],
        ],
      ],
      [
        { type: 'float', low: 0, high: 1, step: 0.25 },
        [0, 0.25, 0.25, 0.75, 1, 0.5],
        [
          [0, -1.6591025134031603],
          [0.5, -1.5087299975185904],
          [1, -1.8694361960858896],
        ],
      ],
      [
        { type: 'int', low: 1, high: 22, step: 3 },
        [1, 4, 4, 10, 22, 13],
        [
          [1, -1.6759802211495973],
          [4, -1.610182286990663],
          [22, -2.666365503038113],
        ],
      ],
      [
        { type: 'float', low: -5, high: 10 },
        float27,
        [
          [3.5, -1.932149491847614],
          [-4, -2.604342947795533],
          [9.9, -3.035924338514209],
        ],
      ],
    ];
    const tpe = new TpeSampler();
    for (const [spec, observed, points] of cases) {
      for (const [x, expected] of points) expect(tpe.logMixtureDensity(spec, observed, x)).toBeCloseTo(expected, 5);
    }
  });

  it.skipIf(!OPTUNA_PY)('matches the installed Optuna on random observation sets of every parameter kind', () => {
    const rng = createRng(2024);
    const specs: ParamSpec[] = [
      { type: 'float', low: -3, high: 7 },
      { type: 'float', low: 0.001, high: 50, log: true },
      { type: 'float', low: 0.5, high: 4, step: 0.5 },
      { type: 'int', low: 0, high: 40 },
      { type: 'int', low: 2, high: 500, log: true },
      { type: 'int', low: 5, high: 50, step: 5 },
      { type: 'categorical', choices: ['p', 'q', 'r', 's', 't'] },
      { type: 'categorical', choices: [true, false] },
    ];
    const random = new RandomSampler();
    const cases = [];
    for (const spec of specs) {
      for (const n of [0, 1, 7, 31]) {
        const observed = Array.from({ length: n }, () => random.sample({ p: spec }, [], rng).p!);
        const points = Array.from({ length: 6 }, () => random.sample({ p: spec }, [], rng).p!);
        cases.push({ spec, observed, points });
      }
    }
    const expected = optunaLogPdf(cases);
    const tpe = new TpeSampler();
    cases.forEach((c, i) =>
      c.points.forEach((x, j) => expect(tpe.logMixtureDensity(c.spec, c.observed, x)).toBeCloseTo(expected[i]![j]!, 5)),
    );
  });

  it.skipIf(!OPTUNA_PY)(
    'orders ties as numpy argsort does (the bandwidths of repeated observations depend on it)',
    () => {
      const rng = createRng(5);
      const arrays: number[][] = [Array.from({ length: 300 }, (_, i) => i % 2), Array.from({ length: 200 }, () => 1)];
      for (let t = 0; t < 60; t++) {
        const n = 1 + Math.floor(rng() * 120);
        const k = 1 + Math.floor(rng() * 5);
        arrays.push(Array.from({ length: n }, () => Math.floor(rng() * k)));
      }
      const ref = JSON.parse(
        execFileSync(
          OPTUNA_PY!,
          [
            '-c',
            'import json,sys,numpy as np; print(json.dumps([np.argsort(np.asarray(a,dtype=float)).tolist() for a in json.load(sys.stdin)]))',
          ],
          { input: JSON.stringify(arrays), encoding: 'utf8' },
        ),
      ) as number[][];
      arrays.forEach((a, i) => expect(argsortLikeNumpy(a)).toEqual(ref[i]));
    },
  );

  it('is reproducible with a seed and stays inside mixed spaces', () => {
    const f = (p: Params) => (Number(p.f) - 1) ** 2 + Math.abs(Math.log10(Number(p.lg))) + (p.c === 'b' ? 0 : 1);
    const r1 = minimise(new TpeSampler(), MIXED, f, 11, 40);
    const r2 = minimise(new TpeSampler(), MIXED, f, 11, 40);
    expect(r2.history.map((t) => t.params)).toEqual(r1.history.map((t) => t.params));
    for (const t of r1.history) checkInSpace(t.params);
    const r3 = minimise(new TpeSampler(), MIXED, f, 12, 40);
    expect(r3.history.map((t) => t.params)).not.toEqual(r1.history.map((t) => t.params));
  });

  it('beats random search on Branin with a fixed budget over several seeds', () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7];
    const tpe = seeds.map((s) => minimise(new TpeSampler(), BRANIN_SPACE, branin, s, 60).best - BRANIN_MIN);
    const rnd = seeds.map((s) => minimise(new RandomSampler(), BRANIN_SPACE, branin, s, 60).best - BRANIN_MIN);
    expect(median(tpe)).toBeLessThan(median(rnd) / 2);
  });

  it('multivariate mode (one joint mixture) also stays in mixed spaces and beats random on Branin', () => {
    const f = (p: Params) => (Number(p.f) - 1) ** 2 + Math.abs(Math.log10(Number(p.lg))) + (p.c === 'b' ? 0 : 1);
    for (const t of minimise(new TpeSampler({ multivariate: true }), MIXED, f, 4, 30).history) checkInSpace(t.params);
    const seeds = [1, 2, 3, 4, 5, 6, 7];
    const mv = seeds.map(
      (s) => minimise(new TpeSampler({ multivariate: true }), BRANIN_SPACE, branin, s, 60).best - BRANIN_MIN,
    );
    const rnd = seeds.map((s) => minimise(new RandomSampler(), BRANIN_SPACE, branin, s, 60).best - BRANIN_MIN);
    expect(median(mv)).toBeLessThan(median(rnd) / 2);
  });

  it('concentrates its proposals on the optimum of a known function', () => {
    const space: SearchSpace = { x: { type: 'float', low: 0, high: 1 }, k: { type: 'int', low: 0, high: 20 } };
    const f = (p: Params) => (Number(p.x) - 0.3) ** 2 + ((Number(p.k) - 14) / 20) ** 2;
    const { history } = minimise(new TpeSampler(), space, f, 5, 80);
    const late = history.slice(50).map((t) => t.params);
    const nearX = late.filter((p) => Math.abs(Number(p.x) - 0.3) < 0.1).length;
    const nearK = late.filter((p) => Math.abs(Number(p.k) - 14) <= 2).length;
    // uniform draws would land there 20 % and ~24 % of the time
    expect(nearX / late.length).toBeGreaterThan(0.6);
    expect(nearK / late.length).toBeGreaterThan(0.6);
  });

  it('prefers the best category', () => {
    const space: SearchSpace = { c: { type: 'categorical', choices: ['x', 'y', 'z', 'w'] } };
    const score: Record<string, number> = { x: 3, y: 0, z: 2, w: 4 };
    const { history } = minimise(new TpeSampler(), space, (p) => score[String(p.c)]!, 9, 60);
    const late = history.slice(30).filter((t) => t.params.c === 'y').length;
    expect(late).toBeGreaterThan(20);
  });

  it('steers away from points that are already running (constant liar)', () => {
    const { history } = minimise(new TpeSampler(), BRANIN_SPACE, branin, 21, 30);
    const s = new TpeSampler();
    const p1 = s.sample(BRANIN_SPACE, history, createRng(99));
    expect(s.sample(BRANIN_SPACE, history, createRng(99))).toEqual(p1);
    const withRunning: TrialView[] = [...history, { number: 30, state: 'running', params: p1 }];
    expect(s.sample(BRANIN_SPACE, withRunning, createRng(99))).not.toEqual(p1);
  });
});

describe('normal helpers', () => {
  it('inverts the normal CDF accurately, tails included', () => {
    for (const p of [1e-12, 1e-6, 0.001, 0.02, 0.3, 0.5, 0.7, 0.98, 0.999999]) {
      const z = inversePhi(p);
      expect(Math.abs(phi(z) - p) / Math.min(p, 1 - p)).toBeLessThan(1e-5);
    }
    expect(inversePhi(0.975)).toBeCloseTo(1.959964, 5);
  });
  it('draws truncated normals inside the window, also far in a tail', () => {
    const rng = createRng(2);
    for (let i = 0; i < 500; i++) {
      const x = sampleTruncatedNormal(0, 1, 4, 4.5, rng);
      expect(x).toBeGreaterThanOrEqual(4);
      expect(x).toBeLessThanOrEqual(4.5);
    }
  });
});

describe('search space validation', () => {
  it('accepts the declared operator spaces', () => {
    expect(() => validateSpace(SEARCH_SPACE)).not.toThrow();
  });
  it.each([
    [{ x: { type: 'float', low: 1, high: 1 } }, 'x: empty or inverted range'],
    [{ y: { type: 'float', low: 2, high: 1 } }, 'y: empty or inverted range'],
    [{ z: { type: 'float', low: 0, high: 1, log: true } }, 'z: log range needs low > 0'],
    [{ c: { type: 'categorical', choices: [] } }, 'c: no choices'],
    [{}, 'no parameters'],
  ] as [SearchSpace, string][])('rejects %j', (space, message) => {
    try {
      validateSpace(space);
      expect.unreachable();
    } catch (e) {
      expect(isSapphireError(e, 'TUNING_SPACE_INVALID')).toBe(true);
      expect((e as Error).message).toContain(message);
    }
  });
});
