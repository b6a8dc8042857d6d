import { inversePhi, phi } from './samplers/normal.ts';

/**
 * How much of a tuned winner is luck: the Deflated Sharpe Ratio (Bailey & López de Prado, 2014)
 * and the Probability of Backtest Overfitting by combinatorially symmetric cross-validation
 * (Bailey, Borwein, López de Prado & Zhu, 2015). Pure functions over per-period returns; Sharpe
 * ratios here are per period (not annualised), as both papers use them.
 */

const EULER_GAMMA = 0.5772156649015329;

/** Per-period Sharpe: mean / sample sd; a series without variance scores 0 (flat, no edge). */
export function periodSharpe(returns: ArrayLike<number>): number {
  const n = returns.length;
  if (n < 2) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += returns[i]!;
  const avg = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (returns[i]! - avg) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return sd > 0 ? avg / sd : 0;
}

/** Skewness and (non-excess) kurtosis from central moments: normal returns give 0 and 3. */
export function shapeMoments(returns: ArrayLike<number>): { skew: number; kurtosis: number } {
  const n = returns.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += returns[i]!;
  const avg = sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = returns[i]! - avg;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  if (!(m2 > 0)) return { skew: 0, kurtosis: 3 };
  return { skew: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) };
}

/**
 * The expected maximum of N independent per-period Sharpe estimates with true Sharpe 0 and the
 * given cross-trial variance (the False Strategy theorem, Euler–Mascheroni approximation):
 * √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))). One trial involves no selection: 0.
 */
export function expectedMaxSharpe(trials: number, variance: number): number {
  if (trials < 2 || !(variance > 0)) return 0;
  return (
    Math.sqrt(variance) *
    ((1 - EULER_GAMMA) * inversePhi(1 - 1 / trials) + EULER_GAMMA * inversePhi(1 - 1 / (trials * Math.E)))
  );
}

/**
 * Probabilistic Sharpe Ratio: P(true Sharpe > benchmark) given the observed per-period Sharpe
 * over T observations with the returns' skew and kurtosis (non-excess).
 */
export function probabilisticSharpe(sr: number, benchmark: number, t: number, skew: number, kurtosis: number): number {
  const v = 1 - skew * sr + ((kurtosis - 1) / 4) * sr * sr;
  if (!(v > 0) || t < 2) return Number.NaN;
  return phi(((sr - benchmark) * Math.sqrt(t - 1)) / Math.sqrt(v));
}

export interface DeflatedSharpe {
  /** probability that the winner's true Sharpe beats the best of N skill-less trials */
  dsr: number;
  /** the winner's per-period Sharpe */
  sharpe: number;
  /** expected maximum per-period Sharpe of N skill-less trials (the deflated benchmark) */
  benchmark: number;
  trials: number;
  /** variance of the trials' per-period Sharpe ratios */
  variance: number;
  /** return observations of the winner */
  observations: number;
  skew: number;
  kurtosis: number;
}

/** DSR of the winner among trials whose per-period Sharpe ratios are `trialSharpes` (winner included). */
export function deflatedSharpe(winner: ArrayLike<number>, trialSharpes: readonly number[]): DeflatedSharpe {
  const n = trialSharpes.length;
  const avg = trialSharpes.reduce((s, x) => s + x, 0) / Math.max(1, n);
  const variance = n > 1 ? trialSharpes.reduce((s, x) => s + (x - avg) ** 2, 0) / (n - 1) : 0;
  const sharpe = periodSharpe(winner);
  const { skew, kurtosis } = shapeMoments(winner);
  const benchmark = expectedMaxSharpe(n, variance);
  return {
    dsr: probabilisticSharpe(sharpe, benchmark, winner.length, skew, kurtosis),
    sharpe,
    benchmark,
    trials: n,
    variance,
    observations: winner.length,
    skew,
    kurtosis,
  };
}

export interface PboResult {
  /** share of train/test splits whose in-sample best ranks at or below the median out of sample */
  pbo: number;
  /** number of submatrices the T rows were cut into */
  blocks: number;
  /** C(S, S/2) */
  splits: number;
  /** rows used (T rounded down to a multiple of S; the oldest rows are dropped) */
  rows: number;
  trials: number;
  /** logit of the out-of-sample relative rank of each split's in-sample best */
  logits: number[];
}

/** The largest even S ≤ `max` that leaves at least `minRows` rows per block (0 when none). */
export function fitBlocks(rows: number, max = 16, minRows = 2): number {
  for (let s = max - (max % 2); s >= 2; s -= 2) if (Math.floor(rows / s) >= minRows) return s;
  return 0;
}

/** All k-subsets of {0..n−1} as bit masks, in increasing order. */
function subsets(n: number, k: number): number[] {
  const out: number[] = [];
  for (let m = 0; m < 1 << n; m++) {
    let bits = 0;
    for (let x = m; x; x &= x - 1) bits++;
    if (bits === k) out.push(m);
  }
  return out;
}

/**
 * PBO by CSCV over `columns` (one per-period return series per trial, all of length T on the
 * same grid): cut the rows into S blocks; for each of the C(S, S/2) ways to pick half the blocks
 * as in-sample, take the trial with the best in-sample Sharpe, find its relative rank ω among
 * all trials out of sample (rank / (N + 1), ties averaged), and its logit ln(ω / (1 − ω)).
 * PBO is the share of logits ≤ 0: how often the in-sample winner is at best median out of sample.
 */
export function probabilityOfBacktestOverfitting(
  columns: readonly ArrayLike<number>[],
  blocks?: number,
): PboResult | null {
  const n = columns.length;
  if (n < 2) return null;
  const t = Math.min(...columns.map((c) => c.length));
  const s = blocks ?? fitBlocks(t);
  if (s < 2 || s % 2 !== 0 || Math.floor(t / s) < 1) return null;
  const size = Math.floor(t / s);
  const rows = size * s;
  // per trial and block: count, sum and sum of squares, so any union of blocks is O(S)
  const sum = new Float64Array(n * s);
  const sq = new Float64Array(n * s);
  columns.forEach((c, j) => {
    const offset = c.length - rows; // align on the most recent rows
    for (let b = 0; b < s; b++) {
      for (let r = 0; r < size; r++) {
        const x = c[offset + b * size + r]!;
        sum[j * s + b]! += x;
        sq[j * s + b]! += x * x;
      }
    }
  });
  const sharpeOf = (j: number, mask: number): number => {
    let a = 0;
    let q = 0;
    let m = 0;
    for (let b = 0; b < s; b++) {
      if (mask & (1 << b)) {
        a += sum[j * s + b]!;
        q += sq[j * s + b]!;
        m += size;
      }
    }
    if (m < 2) return 0;
    const avg = a / m;
    const variance = (q - m * avg * avg) / (m - 1);
    // a flat series (variance lost in q − m·avg² rounding) has no edge, as periodSharpe says
    return variance > 1e-12 * (q / m) ? avg / Math.sqrt(variance) : 0;
  };
  const full = (1 << s) - 1;
  const logits: number[] = [];
  const inS = new Float64Array(n);
  for (const train of subsets(s, s / 2)) {
    const test = full & ~train;
    let best = 0;
    for (let j = 0; j < n; j++) {
      inS[j] = sharpeOf(j, train);
      if (inS[j]! > inS[best]!) best = j;
    }
    const target = sharpeOf(best, test);
    let below = 0;
    let ties = 0;
    for (let j = 0; j < n; j++) {
      if (j === best) continue;
      const v = sharpeOf(j, test);
      if (v < target) below++;
      else if (v === target) ties++;
    }
    const rank = 1 + below + ties / 2;
    const w = rank / (n + 1);
    logits.push(Math.log(w / (1 - w)));
  }
  const overfit = logits.filter((l) => l <= 0).length;
  return { pbo: overfit / logits.length, blocks: s, splits: logits.length, rows, trials: n, logits };
}
