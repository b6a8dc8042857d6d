import type { ParamSpec, SearchSpace } from '../../pipelines/search-space.ts';
import type { FoldReport } from '../../research/tune.ts';

/**
 * What `sapphire tune` tells its user beyond the tables: values rounded for `.env`, where the
 * folds' winners disagree, and the out-of-sample verdict.
 */

type ParamValue = string | number | boolean;

/** Decimals a float setting is written with: its step's, else ~3 significant digits of its range. */
export function decimalsFor(spec: ParamSpec): number {
  if (spec.type === 'categorical') return 0;
  if (spec.type === 'int') return 0;
  if (spec.step !== undefined) {
    const text = String(spec.step);
    return text.includes('e-') ? Number(text.split('e-')[1]) : (text.split('.')[1]?.length ?? 0);
  }
  const span = spec.high - spec.low;
  return Math.max(0, 3 - Math.floor(Math.log10(span > 0 ? span : Math.abs(spec.high) || 1)));
}

/** A value as it goes into `.env`: on its step (from `low`), whole for ints, else to its precision. */
export function roundToSpec(value: ParamValue, spec: ParamSpec | undefined): ParamValue {
  if (typeof value !== 'number' || spec === undefined || spec.type === 'categorical') return value;
  const digits = decimalsFor(spec);
  let v = value;
  if (spec.step !== undefined && spec.step > 0) v = spec.low + Math.round((v - spec.low) / spec.step) * spec.step;
  if (spec.type === 'int') v = Math.round(v);
  v = Math.min(spec.high, Math.max(spec.low, v));
  return Number(v.toFixed(digits));
}

export function roundChosen(chosen: Record<string, ParamValue>, space: SearchSpace): Record<string, ParamValue> {
  return Object.fromEntries(Object.entries(chosen).map(([k, v]) => [k, roundToSpec(v, space[k])]));
}

/**
 * Parameters whose fold winners disagree: categorical ones with different choices, numeric ones
 * whose winners spread over more than `tolerance` of the searched range.
 */
export function foldDisagreements(folds: readonly FoldReport[], space: SearchSpace, tolerance = 0.25): string[] {
  const winners = folds.filter((f) => f.best !== null);
  if (winners.length < 2) return [];
  const out: string[] = [];
  for (const [name, spec] of Object.entries(space)) {
    const values = winners.map((f) => f.best!.params[name]).filter((v) => v !== undefined);
    if (values.length < 2) continue;
    const listed = winners
      .map((f) => `fold ${f.index + 1} ${String(roundToSpec(f.best!.params[name]!, spec))}`)
      .join(', ');
    if (spec.type === 'categorical' || values.some((v) => typeof v !== 'number')) {
      if (new Set(values.map(String)).size > 1) out.push(`${name}: ${listed}`);
      continue;
    }
    const nums = values as number[];
    const spread = spec.log
      ? (Math.log(Math.max(...nums)) - Math.log(Math.min(...nums))) / (Math.log(spec.high) - Math.log(spec.low))
      : (Math.max(...nums) - Math.min(...nums)) / (spec.high - spec.low);
    if (spread > tolerance) out.push(`${name}: ${listed}`);
  }
  return out;
}

/** One line on whether the winners held up on the windows they never saw. */
export function outOfSampleVerdict(folds: readonly FoldReport[], objective: string): string {
  const value = (w: FoldReport['inSample']) => (w.feasible ? (w.raw ?? w.value) : null);
  const finite = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null && Number.isFinite(x));
  const is = finite(folds.map((f) => value(f.inSample)));
  const oos = finite(folds.map((f) => value(f.outOfSample)));
  if (oos.length === 0)
    return `out-of-sample verdict: no fold has an out-of-sample ${objective} (no feasible winner or too few trades)`;
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanIs = is.length ? avg(is) : Number.NaN;
  const meanOos = avg(oos);
  const ratio = meanIs > 0 ? meanOos / meanIs : Number.NaN;
  const worse = oos.filter((x) => x <= 0).length;
  const verdict =
    meanOos <= 0
      ? 'the winners lose out of sample: do not trade them'
      : ratio >= 0.5
        ? 'the winners hold up out of sample'
        : 'the winners degrade out of sample (likely overfitted)';
  const show = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : '—');
  return (
    `out-of-sample verdict: ${verdict} — mean ${objective} in-sample ${show(meanIs)}, out-of-sample ${show(meanOos)}` +
    `${Number.isFinite(ratio) ? ` (ratio ${show(ratio)})` : ''}, ${oos.length - worse}/${oos.length} folds positive out of sample`
  );
}

/**
 * Each strategy's part of every fold's winner, in-sample and out-of-sample, when a fold's winner
 * ran more than one strategy (STRATEGIES=a,b, or the categorical search over STRATEGIES); empty
 * when every winner ran one (its part is the fold table's row).
 */
export function strategyPartsLines(folds: readonly FoldReport[]): string[] {
  const several = folds.some((f) => f.inSample.strategies.length > 1 || f.outOfSample.strategies.length > 1);
  if (!several) return [];
  const part = (p: FoldReport['inSample']['strategies'][number]) =>
    `${p.strategy} ${p.trades} trades, ${p.netPnl >= 0 ? '+' : ''}${p.netPnl.toFixed(2)} USDT, ` +
    `win ${(p.winRate * 100).toFixed(0)} %, mean share ${p.meanShare.toFixed(2)}`;
  const lines = ['\nPer strategy (each fold’s winner: trades, net PnL, win rate, mean capital share)'];
  for (const f of folds) {
    for (const [label, w] of [
      ['IS ', f.inSample],
      ['OOS', f.outOfSample],
    ] as const) {
      const parts = w.strategies.length > 0 ? w.strategies.map(part).join('; ') : 'no trades';
      lines.push(`  fold ${f.index + 1} ${label}: ${parts}`);
    }
  }
  return lines;
}
