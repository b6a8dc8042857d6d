import { describe, expect, it } from 'vitest';
import type { FoldReport } from '../../research/tune.ts';
import {
  decimalsFor,
  foldDisagreements,
  outOfSampleVerdict,
  roundChosen,
  roundToSpec,
} from '../../bin/kit/tune-output.ts';

const window = (value: number | null) => ({
  window: { from: 0, to: 1 },
  value,
  raw: value,
  feasible: value !== null,
  metrics: null,
});

function fold(
  index: number,
  params: Record<string, number | string>,
  is: number | null,
  oos: number | null,
): FoldReport {
  return {
    index,
    best: { number: 1, params, state: 'complete', value: is },
    inSample: window(is),
    outOfSample: window(oos),
  } as unknown as FoldReport;
}

describe('tune output', () => {
  it('rounds a value to its step, ints to whole numbers, other floats to ~3 significant digits of the range', () => {
    expect(roundToSpec(0.1 + 0.2, { type: 'float', low: 0, high: 1, step: 0.05 })).toBe(0.3);
    expect(roundToSpec(0.337, { type: 'float', low: 0.1, high: 1, step: 0.05 })).toBe(0.35);
    expect(roundToSpec(17.6, { type: 'int', low: 5, high: 50 })).toBe(18);
    expect(roundToSpec(1.2345678912, { type: 'float', low: 1, high: 4 })).toBe(1.235);
    expect(roundToSpec(0.0123456789, { type: 'float', low: 0.001, high: 0.02 })).toBe(0.01235);
    expect(roundToSpec('atr', { type: 'categorical', choices: ['atr', 'fixed'] })).toBe('atr');
    expect(decimalsFor({ type: 'float', low: 0, high: 1, step: 1e-7 })).toBe(7);
    expect(roundChosen({ A: 2.00000001, B: 'x' }, { A: { type: 'float', low: 1, high: 4 } })).toEqual({ A: 2, B: 'x' });
  });

  it('names parameters whose fold winners spread over more than a quarter of the range', () => {
    const space = {
      A: { type: 'float', low: 0, high: 10 },
      B: { type: 'float', low: 0, high: 10 },
      C: { type: 'categorical', choices: ['x', 'y'] },
    } as const;
    const folds = [fold(0, { A: 1, B: 5, C: 'x' }, 1, 1), fold(1, { A: 9, B: 6, C: 'y' }, 1, 1)];
    const d = foldDisagreements(folds, space);
    expect(d).toEqual(['A: fold 1 1, fold 2 9', 'C: fold 1 x, fold 2 y']);
    expect(foldDisagreements(folds.slice(0, 1), space)).toEqual([]);
  });

  it('gives an out-of-sample verdict from the mean in-sample and out-of-sample objective', () => {
    expect(outOfSampleVerdict([fold(0, {}, 2, 1.5), fold(1, {}, 2, 0.5)], 'sharpe')).toBe(
      'out-of-sample verdict: the winners hold up out of sample — mean sharpe in-sample 2, out-of-sample 1 (ratio 0.5), 2/2 folds positive out of sample',
    );
    expect(outOfSampleVerdict([fold(0, {}, 2, 0.2)], 'sharpe')).toContain('degrade out of sample (likely overfitted)');
    expect(outOfSampleVerdict([fold(0, {}, 2, -1), fold(1, {}, 2, 0.5)], 'sharpe')).toContain(
      'lose out of sample: do not trade them',
    );
    expect(outOfSampleVerdict([fold(0, {}, 2, null)], 'sharpe')).toContain('no fold has an out-of-sample sharpe');
  });
});
