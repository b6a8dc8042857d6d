import { describe, expect, it } from 'vitest';
import { mean, sampleStandardDeviation, sampleVariance } from 'simple-statistics';
import { createRng } from '../../pipelines/rng.ts';
import {
  deflatedSharpe,
  expectedMaxSharpe,
  fitBlocks,
  periodSharpe,
  probabilisticSharpe,
  probabilityOfBacktestOverfitting,
  shapeMoments,
} from '../../research/overfitting.ts';
import type { TrialRecord } from '../../research/storage/types.ts';
import {
  decodeReturns,
  encodeReturns,
  luckVerdict,
  studyLuck,
  type StoredReturns,
} from '../../research/trial-returns.ts';

/** Box–Muller standard normals from the project's seeded generator. */
function normals(rng: () => number, n: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(rng(), 1e-300);
    const v = rng();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

/** Φ by numerical integration of the normal density (independent of the code under test). */
function phiByIntegration(z: number): number {
  const lo = -12;
  const steps = 20_000;
  const h = (z - lo) / steps;
  let s = 0;
  for (let i = 0; i <= steps; i++) {
    const x = lo + i * h;
    const w = i === 0 || i === steps ? 1 : i % 2 ? 4 : 2;
    s += w * Math.exp(-0.5 * x * x);
  }
  return (s * h) / 3 / Math.sqrt(2 * Math.PI);
}

/** Φ⁻¹ by bisection on phiByIntegration. */
function inversePhiByBisection(p: number): number {
  let a = -10;
  let b = 10;
  for (let i = 0; i < 60; i++) {
    const m = (a + b) / 2;
    if (phiByIntegration(m) < p) a = m;
    else b = m;
  }
  return (a + b) / 2;
}

describe('Deflated Sharpe Ratio (Bailey & López de Prado 2014)', () => {
  it("reproduces the paper's numerical example: SR 2.5 a year, 100 trials, V[SR] 1/2, 5 years daily, skew −3, kurtosis 10", () => {
    // the example's inputs are annualised with 250 days a year; the formulas take per-period values
    const days = 250;
    const sr = 2.5 / Math.sqrt(days);
    const variance = 0.5 / days;
    const sr0 = expectedMaxSharpe(100, variance);
    // the paper: SR0 ≈ 0.1132 per day, DSR ≈ 0.9004
    expect(sr0).toBeCloseTo(0.1132, 4);
    const dsr = probabilisticSharpe(sr, sr0, 1250, -3, 10);
    expect(dsr).toBeCloseTo(0.9004, 4);

    // independent recomputation: quadrature for Φ, bisection for Φ⁻¹
    const g = 0.5772156649015329;
    const sr0Ind =
      Math.sqrt(variance) *
      ((1 - g) * inversePhiByBisection(1 - 1 / 100) + g * inversePhiByBisection(1 - 1 / (100 * Math.E)));
    expect(sr0).toBeCloseTo(sr0Ind, 6);
    const z = ((sr - sr0Ind) * Math.sqrt(1250 - 1)) / Math.sqrt(1 - -3 * sr + ((10 - 1) / 4) * sr * sr);
    expect(dsr).toBeCloseTo(phiByIntegration(z), 6);
  });

  it('the expected maximum matches a simulation of N skill-less trials', () => {
    const rng = createRng(11);
    for (const n of [10, 100]) {
      const maxima: number[] = [];
      for (let k = 0; k < 4000; k++) maxima.push(Math.max(...normals(rng, n)));
      // the Euler–Mascheroni approximation is within ~2 % of the true expected maximum here
      expect(expectedMaxSharpe(n, 1)).toBeGreaterThan(mean(maxima) * 0.97);
      expect(expectedMaxSharpe(n, 1)).toBeLessThan(mean(maxima) * 1.04);
    }
    expect(expectedMaxSharpe(1, 1)).toBe(0);
  });

  it('computes the winner statistics from the returns, recomputed independently', () => {
    const rng = createRng(3);
    const trials = Array.from({ length: 40 }, (_, j) => normals(rng, 500).map((x) => 0.01 * x + 0.0002 * j));
    const sharpes = trials.map((r) => mean(r) / sampleStandardDeviation(r));
    trials.forEach((r, j) => expect(periodSharpe(r)).toBeCloseTo(sharpes[j]!, 12));
    const winner = trials[39]!;
    const d = deflatedSharpe(winner, trials.map(periodSharpe));
    expect(d.trials).toBe(40);
    expect(d.observations).toBe(500);
    expect(d.variance).toBeCloseTo(sampleVariance(sharpes), 12);
    const mu = mean(winner);
    const m2 = mean(winner.map((x) => (x - mu) ** 2));
    expect(d.skew).toBeCloseTo(mean(winner.map((x) => (x - mu) ** 3)) / m2 ** 1.5, 10);
    expect(d.kurtosis).toBeCloseTo(mean(winner.map((x) => (x - mu) ** 4)) / m2 ** 2, 10);
    const z =
      ((d.sharpe - d.benchmark) * Math.sqrt(499)) /
      Math.sqrt(1 - d.skew * d.sharpe + ((d.kurtosis - 1) / 4) * d.sharpe ** 2);
    expect(d.dsr).toBeCloseTo(phiByIntegration(z), 6);
    // normal returns: skew ≈ 0, kurtosis ≈ 3
    expect(Math.abs(shapeMoments(normals(rng, 20000)).skew)).toBeLessThan(0.1);
    expect(shapeMoments(normals(rng, 20000)).kurtosis).toBeCloseTo(3, 0);
  });

  it('a true edge survives deflation; the best of pure noise does not', () => {
    const rng = createRng(8);
    const noise = Array.from({ length: 100 }, () => normals(rng, 365).map((x) => 0.01 * x));
    const sharpes = noise.map(periodSharpe);
    const luckiest = noise[sharpes.indexOf(Math.max(...sharpes))]!;
    expect(deflatedSharpe(luckiest, sharpes).dsr).toBeLessThan(0.5);
    const edge = normals(rng, 365).map((x) => 0.01 * x + 0.004);
    expect(deflatedSharpe(edge, [...sharpes.slice(1), periodSharpe(edge)]).dsr).toBeGreaterThan(0.95);
  });
});

/** CSCV written out the slow way: explicit row sets, sorting for ranks, recursion for combinations. */
function naivePbo(columns: number[][], s: number): { pbo: number; logits: number[] } {
  const t = columns[0]!.length;
  const size = Math.floor(t / s);
  const offset = t - size * s;
  const blockRows = (b: number) => Array.from({ length: size }, (_, r) => offset + b * size + r);
  const sr = (col: number[], rows: number[]) => {
    const xs = rows.map((r) => col[r]!);
    const sd = sampleStandardDeviation(xs);
    return sd > 0 ? mean(xs) / sd : 0;
  };
  const combos: number[][] = [];
  const pick = (start: number, acc: number[]) => {
    if (acc.length === s / 2) return void combos.push([...acc]);
    for (let b = start; b < s; b++) pick(b + 1, [...acc, b]);
  };
  pick(0, []);
  const logits = combos.map((train) => {
    const test = Array.from({ length: s }, (_, b) => b).filter((b) => !train.includes(b));
    const trainRows = train.flatMap(blockRows);
    const testRows = test.flatMap(blockRows);
    const is = columns.map((c) => sr(c, trainRows));
    const best = is.indexOf(Math.max(...is));
    const oos = columns.map((c) => sr(c, testRows));
    const sorted = [...oos].sort((a, b) => a - b);
    const first = sorted.indexOf(oos[best]!) + 1;
    const last = sorted.lastIndexOf(oos[best]!) + 1;
    const w = (first + last) / 2 / (columns.length + 1);
    return Math.log(w / (1 - w));
  });
  return { pbo: logits.filter((l) => l <= 0).length / logits.length, logits };
}

describe('Probability of Backtest Overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu 2015)', () => {
  it('N trials of identical noise: PBO near 0.5 (the in-sample winner is a coin flip out of sample)', () => {
    const rng = createRng(21);
    const pbos: number[] = [];
    for (let k = 0; k < 6; k++) {
      const cols = Array.from({ length: 30 }, () => normals(rng, 480).map((x) => 0.01 * x));
      const r = probabilityOfBacktestOverfitting(cols, 16)!;
      expect(r.splits).toBe(12870);
      pbos.push(r.pbo);
    }
    // with N = 30 even, ω ≤ ½ ⇔ rank ≤ 15.5: exactly half of the ranks
    expect(mean(pbos)).toBeGreaterThan(0.4);
    expect(mean(pbos)).toBeLessThan(0.6);
  });

  it('one trial dominant in every sub-period: PBO = 0', () => {
    const rng = createRng(5);
    const cols = Array.from({ length: 20 }, () => normals(rng, 320));
    cols[7] = normals(rng, 320).map((x) => x + 2);
    const r = probabilityOfBacktestOverfitting(cols, 16)!;
    expect(r.pbo).toBe(0);
    // the winner is always the best out of sample too: ω = N / (N + 1)
    for (const l of r.logits) expect(l).toBeCloseTo(Math.log(20), 12);
  });

  it('a winner in-sample that always loses out of sample: PBO = 1', () => {
    // two blocks; trial 0 earns in the first and loses in the second, trial 1 the reverse
    const up = [0.02, 0.01, 0.03, 0.02];
    const down = [-0.02, -0.01, -0.03, -0.02];
    const r = probabilityOfBacktestOverfitting(
      [
        [...up, ...down],
        [...down, ...up],
      ],
      2,
    )!;
    expect(r.splits).toBe(2);
    expect(r.pbo).toBe(1);
    for (const l of r.logits) expect(l).toBeCloseTo(Math.log(1 / 3 / (2 / 3)), 12);
  });

  it('matches a slow independent implementation on random data with a real spread of skill', () => {
    const rng = createRng(9);
    for (const s of [4, 6, 8]) {
      const cols = Array.from({ length: 12 }, (_, j) => normals(rng, 203).map((x) => 0.01 * x + 0.0003 * j));
      const fast = probabilityOfBacktestOverfitting(cols, s)!;
      const slow = naivePbo(cols, s);
      expect(fast.pbo).toBe(slow.pbo);
      // the same multiset of splits (enumerated in a different order)
      const a = [...fast.logits].sort((x, y) => x - y);
      const b = [...slow.logits].sort((x, y) => x - y);
      a.forEach((l, i) => expect(l).toBeCloseTo(b[i]!, 9));
      expect(fast.rows).toBe(Math.floor(203 / s) * s);
    }
  });

  it('fits S to the observations available and refuses too few trials', () => {
    expect(fitBlocks(365)).toBe(16);
    expect(fitBlocks(20)).toBe(10);
    expect(fitBlocks(3)).toBe(0);
    expect(probabilityOfBacktestOverfitting([[1, 2, 3]])).toBeNull();
  });
});

describe('study luck from the returns each trial stores', () => {
  const trial = (number: number, value: number, returns?: number[]): TrialRecord => ({
    number,
    state: 'complete',
    params: { x: number },
    value,
    attrs: returns ? { returns: encodeReturns(returns, 'daily', 1_700_000_000_000) } : { raw: value },
    worker: 'w',
    heartbeatAt: 0,
    attempts: 1,
  });

  it('round-trips returns through float32 base64 and computes DSR and PBO from them', () => {
    const rng = createRng(4);
    const cols = Array.from({ length: 12 }, (_, j) => normals(rng, 120).map((x) => 0.01 * x + 0.0004 * j));
    const trials = cols.map((c, j) => trial(j, periodSharpe(c), c));
    const stored = (trials[3]!.attrs as { returns: StoredReturns }).returns;
    const back = decodeReturns(stored);
    cols[3]!.forEach((x, i) => expect(back[i]).toBeCloseTo(Math.fround(x), 15));
    // about 5.3 characters a return
    expect(stored.f32.length).toBeLessThan(120 * 5.4);
    const best = trials[11]!;
    const luck = studyLuck(trials, best);
    const f32 = cols.map((c) => c.map(Math.fround));
    expect(luck.trials).toBe(12);
    expect(luck.dsr!.dsr).toBeCloseTo(deflatedSharpe(f32[11]!, f32.map(periodSharpe)).dsr, 12);
    expect(luck.pbo!.pbo).toBe(naivePbo(f32, 16).pbo);
    expect(luck.pbo!.blocks).toBe(16);
  });

  it('a study recorded before returns were kept still reads: DSR and PBO are unavailable, with the reason', () => {
    const trials = [trial(0, 1), trial(1, 2)];
    const luck = studyLuck(trials, trials[1]!);
    expect(luck.dsr).toBeNull();
    expect(luck.pbo).toBeNull();
    expect(luck.note).toMatch(/no returns/);
    expect(luckVerdict(luck)).toBeNull();
  });

  it('--write-env verdict: refuses PBO > 0.5 or DSR < 0.5 and names both', () => {
    const base = { trials: 5, basis: 'daily' as const, note: undefined };
    const dsr = (v: number) => ({ ...deflatedSharpe([0.01, 0.02, -0.01, 0.03], [0.1, 0.2]), dsr: v });
    const pbo = (v: number) => ({ pbo: v, blocks: 16, splits: 12870, rows: 64, trials: 5 });
    expect(luckVerdict({ ...base, dsr: dsr(0.9), pbo: pbo(0.2) })).toBeNull();
    expect(luckVerdict({ ...base, dsr: dsr(0.4), pbo: pbo(0.2) })).toBe('DSR 0.400 < 0.5');
    expect(luckVerdict({ ...base, dsr: dsr(0.9), pbo: pbo(0.6) })).toBe('PBO 0.600 > 0.5');
    expect(luckVerdict({ ...base, dsr: dsr(0.1), pbo: pbo(0.7) })).toBe('PBO 0.700 > 0.5 and DSR 0.100 < 0.5');
  });
});
