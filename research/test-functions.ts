import type { SearchSpace } from '../pipelines/search-space.ts';
import type { Params } from './samplers/types.ts';

/**
 * Standard optimisation test functions (minimised), used to measure samplers.
 * Branin: x1 ∈ [-5, 10], x2 ∈ [0, 15], global minimum 0.397887 at three points.
 * Hartmann-6: x ∈ [0, 1]^6, global minimum −3.32237.
 */
export const BRANIN_SPACE: SearchSpace = {
  x1: { type: 'float', low: -5, high: 10 },
  x2: { type: 'float', low: 0, high: 15 },
};
export const BRANIN_MIN = 0.397887357729738;

export function branin(p: Params): number {
  const x1 = Number(p.x1);
  const x2 = Number(p.x2);
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

export const HARTMANN6_SPACE: SearchSpace = Object.fromEntries(
  [1, 2, 3, 4, 5, 6].map((i) => [`x${i}`, { type: 'float', low: 0, high: 1 } as const]),
);
export const HARTMANN6_MIN = -3.322368011415515;

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

export function hartmann6(p: Params): number {
  let sum = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) {
      const x = Number(p[`x${j + 1}`]);
      inner += H_A[i]![j]! * (x - H_P[i]![j]!) ** 2;
    }
    sum += H_ALPHA[i]! * Math.exp(-inner);
  }
  return -sum;
}

/**
 * A mixed space (float, log float, int, categorical) with a known optimum, to measure samplers
 * where TPE's integer and categorical kernels matter: minimum 0 at x = 2, lr = 10^−2.5, n = 7,
 * k = 'b'; the other categories cost 0.5 ('c'), 1 ('a') and 2 ('d').
 */
export const MIXED_SPACE: SearchSpace = {
  x: { type: 'float', low: -5, high: 10 },
  lr: { type: 'float', low: 1e-5, high: 1, log: true },
  n: { type: 'int', low: 1, high: 20 },
  k: { type: 'categorical', choices: ['a', 'b', 'c', 'd'] },
};
export const MIXED_MIN = 0;
export const MIXED_BEST_CATEGORY = 'b';
const MIXED_CATEGORY_COST: Record<string, number> = { a: 1, b: 0, c: 0.5, d: 2 };

export function mixedSpace(p: Params): number {
  const x = Number(p.x);
  const lr = Number(p.lr);
  const n = Number(p.n);
  return (x - 2) ** 2 / 4 + (Math.log10(lr) + 2.5) ** 2 + ((n - 7) / 4) ** 2 + MIXED_CATEGORY_COST[String(p.k)]!;
}
