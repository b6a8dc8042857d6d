import { describe, expect, it } from 'vitest';
import { checkEntry, stopOutsInWindow } from '../../../operators/risk/risk.kernel.ts';

const base = {
  quantity: 1,
  price: 100,
  stopDistance: 2,
  equity: 1000,
  grossExposure: 0,
  openPositions: 0,
  maxPositionRisk: 0.1,
  maxLeverage: 2,
  maxConcurrent: 6,
  sizeScale: 1,
};

describe('risk kernel', () => {
  it('passes an entry inside every limit unchanged', () => {
    expect(checkEntry(base)).toEqual({ ok: true, quantity: 1, notes: [] });
  });

  it('caps the loss at the stop to MAX_POSITION_RISK of equity', () => {
    const r = checkEntry({ ...base, quantity: 100, maxLeverage: 100 });
    expect(r.ok && r.quantity * base.stopDistance).toBeCloseTo(100, 10);
  });

  it('fits the notional inside the leverage cap, and refuses when no room is left', () => {
    const r = checkEntry({ ...base, quantity: 15, stopDistance: 0.1, grossExposure: 1500 });
    expect(r.ok && r.quantity * 100).toBeCloseTo(500, 10);
    const full = checkEntry({ ...base, grossExposure: 2000 });
    expect(full).toMatchObject({ ok: false, rule: 'max-portfolio-leverage' });
  });

  it('refuses beyond the concurrency limit and scales while delevering', () => {
    expect(checkEntry({ ...base, openPositions: 6 })).toMatchObject({ ok: false, rule: 'max-concurrent-positions' });
    const r = checkEntry({ ...base, sizeScale: 0.5 });
    expect(r.ok && r.quantity).toBe(0.5);
  });

  it('counts stop-outs inside the window only', () => {
    expect(stopOutsInWindow([1, 50, 90, 99], 100, 20)).toBe(2);
    expect(stopOutsInWindow([], 100, 20)).toBe(0);
  });
});
