import type { ReturnsBasis } from '../backtests/report/metrics.ts';
import {
  deflatedSharpe,
  periodSharpe,
  probabilityOfBacktestOverfitting,
  type DeflatedSharpe,
  type PboResult,
} from './overfitting.ts';
import type { TrialRecord } from './storage/types.ts';

/**
 * A trial's period returns as stored in its attrs (`attrs.returns`): the Sharpe estimator's own
 * returns (daily or per bar), float32 little-endian in base64 — about 5.3 characters a return, so
 * a year of daily returns is ~2 KB per trial. Studies written before this field have no returns;
 * their DSR/PBO are reported as unavailable.
 */
export interface StoredReturns {
  basis: ReturnsBasis;
  /** time of the first equity row (returns of trials on one window share it) */
  t0: number;
  n: number;
  f32: string;
}

export function encodeReturns(returns: readonly number[], basis: ReturnsBasis, t0: number): StoredReturns {
  const buf = Buffer.alloc(returns.length * 4);
  returns.forEach((r, i) => buf.writeFloatLE(r, i * 4));
  return { basis, t0, n: returns.length, f32: buf.toString('base64') };
}

export function decodeReturns(s: StoredReturns): Float64Array {
  const buf = Buffer.from(s.f32, 'base64');
  const out = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

function storedReturns(t: TrialRecord): StoredReturns | null {
  const r = (t.attrs as { returns?: StoredReturns } | undefined)?.returns;
  return r && typeof r.f32 === 'string' && Number.isInteger(r.n) ? r : null;
}

export interface StudyLuck {
  /** trials whose returns entered the statistics */
  trials: number;
  basis: ReturnsBasis | null;
  dsr: DeflatedSharpe | null;
  /** PBO without the per-split logits (those stay in memory only) */
  pbo: Omit<PboResult, 'logits'> | null;
  /** why a figure is missing (old study without returns, too few trials or observations) */
  note?: string;
}

/**
 * DSR of the study's winner and PBO over its finished trials, from the returns each trial
 * stored. Trials on another grid than the winner's (different first row or length) are left out.
 */
export function studyLuck(trials: readonly TrialRecord[], best: TrialRecord | null): StudyLuck {
  const done = trials.filter((t) => t.state === 'complete');
  const winner = best ? storedReturns(best) : null;
  if (!best || !winner) {
    const note = !best ? 'no winner' : 'the trials carry no returns (study recorded before returns were kept)';
    return { trials: 0, basis: null, dsr: null, pbo: null, note };
  }
  const same = done
    .map((t) => ({ t, r: storedReturns(t) }))
    .filter(
      (x): x is { t: TrialRecord; r: StoredReturns } =>
        x.r !== null && x.r.t0 === winner.t0 && x.r.n === winner.n && x.r.basis === winner.basis,
    );
  const columns = same.map((x) => decodeReturns(x.r));
  const winnerReturns = decodeReturns(winner);
  const dsr = winner.n >= 2 ? deflatedSharpe(winnerReturns, columns.map(periodSharpe)) : null;
  const pbo = probabilityOfBacktestOverfitting(columns);
  const notes: string[] = [];
  if (same.length < done.length)
    notes.push(`${done.length - same.length} trial(s) without returns on the winner's grid left out`);
  if (!pbo) notes.push(`PBO needs ≥ 2 trials and ≥ 4 return observations (have ${same.length} and ${winner.n})`);
  const pboOut = pbo
    ? { pbo: pbo.pbo, blocks: pbo.blocks, splits: pbo.splits, rows: pbo.rows, trials: pbo.trials }
    : null;
  return {
    trials: same.length,
    basis: winner.basis,
    dsr,
    pbo: pboOut,
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}

/** Why `--write-env` should not write this winner (null when it may): PBO > 0.5 or DSR < 0.5. */
export function luckVerdict(l: StudyLuck): string | null {
  const reasons: string[] = [];
  if (l.pbo && l.pbo.pbo > 0.5) reasons.push(`PBO ${l.pbo.pbo.toFixed(3)} > 0.5`);
  if (l.dsr && !(l.dsr.dsr >= 0.5))
    reasons.push(`DSR ${Number.isNaN(l.dsr.dsr) ? 'undefined' : l.dsr.dsr.toFixed(3)} < 0.5`);
  return reasons.length ? reasons.join(' and ') : null;
}
