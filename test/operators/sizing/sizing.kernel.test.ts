import { describe, expect, it } from 'vitest';
import {
  atrRiskQuantity,
  emptyRecord,
  kellyEstimate,
  kellyFraction,
  recordTrade,
} from '../../../operators/sizing/sizing.kernel.ts';

describe('sizing kernel', () => {
  it('uses the prior alone before any trade: f = p − (1 − p)/b', () => {
    const est = kellyEstimate(emptyRecord(), 0.55, 2, 20);
    expect(est.p).toBeCloseTo(0.55, 12);
    expect(est.b).toBeCloseTo(2, 12);
    expect(est.full).toBeCloseTo(0.55 - 0.45 / 2, 12);
    expect(kellyFraction(est, 0.5, 0.5)).toBeCloseTo(0.1625, 12);
  });

  it('moves from the prior to the measured win rate and payoff as trades close', () => {
    const r = emptyRecord();
    // 30 trades: 10 wins of 1.5 R, 20 losses of 1 R → p = 1/3, b = 1.5, edge negative
    for (let i = 0; i < 10; i++) recordTrade(r, 1.5);
    for (let i = 0; i < 20; i++) recordTrade(r, -1);
    const withPrior = kellyEstimate(r, 0.55, 2, 20);
    expect(withPrior.p).toBeCloseTo((10 + 11) / 50, 12);
    const measured = kellyEstimate(r, 0.55, 2, 0);
    expect(measured.p).toBeCloseTo(1 / 3, 12);
    expect(measured.b).toBeCloseTo(1.5, 12);
    expect(measured.full).toBeCloseTo(1 / 3 - 2 / 3 / 1.5, 12);
    expect(kellyFraction(measured, 0.5, 0.5)).toBeLessThan(0);
  });

  it('is not stuck at its cap: a modest edge gives a fraction below the cap', () => {
    const r = emptyRecord();
    for (let i = 0; i < 50; i++) recordTrade(r, 1.2);
    for (let i = 0; i < 50; i++) recordTrade(r, -1);
    const f = kellyFraction(kellyEstimate(r, 0.55, 2, 20), 0.5, 0.5);
    expect(f).toBeGreaterThan(0);
    expect(f).toBeLessThan(0.5);
  });

  it('ATR risk sizing loses exactly the risk fraction at the stop', () => {
    const q = atrRiskQuantity(10_000, 0.01, 250);
    expect(q * 250).toBeCloseTo(100, 10);
    expect(atrRiskQuantity(10_000, 0.01, 0)).toBe(0);
  });
});

describe('the Kelly window', () => {
  it('forgets trades older than KELLY_WINDOW_TRADES: only the last window counts', async () => {
    const { emptyRecord, recordTrade } = await import('../../../operators/sizing/sizing.kernel.ts');
    const r = emptyRecord(3);
    for (const x of [2, 2, 2]) recordTrade(r, x);
    expect(r).toMatchObject({ wins: 3, losses: 0, winR: 6, lossR: 0 });
    for (const x of [-1, -1]) recordTrade(r, x);
    expect(r).toMatchObject({ wins: 1, losses: 2, winR: 2, lossR: 2 });
    recordTrade(r, -0.5);
    expect(r).toMatchObject({ wins: 0, losses: 3, lossR: 2.5 });
    expect(r.winR).toBeCloseTo(0, 12);
  });

  it('round-trips through its snapshot data and refuses a window of another size', async () => {
    const { emptyRecord, recordTrade, recordToData, recordFromData } =
      await import('../../../operators/sizing/sizing.kernel.ts');
    const r = emptyRecord(4);
    for (const x of [1, -1, 3]) recordTrade(r, x);
    const back = recordFromData(JSON.parse(JSON.stringify(recordToData(r))), 4);
    expect(back).toEqual(r);
    expect(() => recordFromData(recordToData(r), 5)).toThrow(/KELLY_WINDOW_TRADES is 5/);
  });
});
