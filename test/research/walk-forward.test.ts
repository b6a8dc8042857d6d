import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeFolds } from '../../research/walk-forward.ts';
import { dataSpan } from '../../research/tune.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { scoreTrial, PENALTY, type TrialMetrics } from '../../research/objectives.ts';

const M5 = 300_000;

describe('walk-forward folds', () => {
  it('splits the real fixture day into consecutive folds with no test bar in training', () => {
    const span = dataSpan([fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')]);
    const folds = makeFolds({ ...span, folds: 3 });
    expect(folds).toHaveLength(3);
    for (const f of folds) {
      expect(f.train.to).toBe(f.test.from);
      expect(f.train.from).toBeGreaterThanOrEqual(span.start);
      expect(f.test.to).toBeLessThanOrEqual(span.end);
      expect((f.train.to - f.train.from) / (f.test.to - f.test.from)).toBe(3);
    }
    for (let i = 1; i < folds.length; i++) expect(folds[i]!.test.from).toBe(folds[i - 1]!.test.to);
    expect(folds.at(-1)!.test.to).toBe(span.end);
  });

  it('holds for any span, fold count and ratio', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 20, max: 5000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0.5, max: 6, noNaN: true }),
        (startBar, bars, k, ratio) => {
          const start = 1_700_000_000_000 + startBar * M5;
          const end = start + bars * M5;
          let folds;
          try {
            folds = makeFolds({ start, end, folds: k, trainRatio: ratio, intervalMs: M5 });
          } catch (e) {
            expect(isSapphireError(e, 'DATA_NOT_FOUND')).toBe(true);
            return;
          }
          expect(folds).toHaveLength(k);
          for (const [i, f] of folds.entries()) {
            expect(f.train.from).toBeGreaterThanOrEqual(start);
            expect(f.train.from).toBeLessThan(f.train.to);
            expect(f.train.to).toBeLessThanOrEqual(f.test.from); // no test data in training
            expect(f.test.to).toBeLessThanOrEqual(end);
            expect((f.test.from - start) % M5).toBe(0);
            if (i > 0) expect(f.test.from).toBeGreaterThanOrEqual(folds[i - 1]!.test.to); // tests never overlap
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('refuses more folds than the data can hold', () => {
    expect(() => makeFolds({ start: 0, end: 10 * M5, folds: 5, intervalMs: M5 })).toThrow(/too few/);
  });
});

describe('objectives', () => {
  const m: TrialMetrics = {
    trades: 12,
    winRate: 0.5,
    totalReturnPct: 4,
    netProfit: 400,
    sharpe: 1.2,
    sortino: 1.8,
    calmar: 0.9,
    maxDrawdownPct: 2.5,
    profitFactor: 1.4,
  };
  it('reads each objective from the metrics', () => {
    expect(scoreTrial('sharpe', m, 0).value).toBe(1.2);
    expect(scoreTrial('sortino', m, 0).value).toBe(1.8);
    expect(scoreTrial('calmar', m, 0).value).toBe(0.9);
    expect(scoreTrial('profit', m, 0).value).toBe(4);
    expect(scoreTrial('profit-drawdown', m, 0).value).toBe(1.5);
  });
  it('penalises too few trades below any feasible value, more trades less so', () => {
    const few = scoreTrial('sharpe', { ...m, trades: 3, sharpe: 50 }, 10);
    const fewer = scoreTrial('sharpe', { ...m, trades: 1, sharpe: 90 }, 10);
    const poor = scoreTrial('sharpe', { ...m, sharpe: -40 }, 10);
    expect(few.feasible).toBe(false);
    expect(few.violation).toContain('3 trades < min 10');
    expect(few.value).toBeLessThan(poor.value);
    expect(fewer.value).toBeLessThan(few.value);
    expect(few.value).toBeLessThan(PENALTY + 1);
  });
  it('treats an undefined ratio as infeasible', () => {
    expect(scoreTrial('calmar', { ...m, calmar: Number.NaN }, 0).feasible).toBe(false);
  });
});
