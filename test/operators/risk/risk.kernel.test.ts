import { describe, expect, it } from 'vitest';
import { checkEntry, initialMargin, stopOutsInWindow } from '../../../operators/risk/risk.kernel.ts';

const base = {
  quantity: 1,
  price: 100,
  stopDistance: 2,
  equity: 1000,
  grossExposure: 0,
  pendingExposure: 0,
  marginUsed: 0,
  leverage: 5,
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

  it('counts entries in flight against the leverage cap as if they were filled', () => {
    // 1,200 of the 2,000 cap is filled, 600 is decided but unfilled: 200 of room is left
    const r = checkEntry({ ...base, quantity: 15, stopDistance: 0.1, grossExposure: 1200, pendingExposure: 600 });
    expect(r.ok && r.quantity * 100).toBeCloseTo(200, 10);
    const full = checkEntry({ ...base, grossExposure: 1000, pendingExposure: 1000 });
    expect(full).toMatchObject({ ok: false, rule: 'max-portfolio-leverage', value: 2, limit: 2 });
  });

  it('fits the initial margin inside equity less the margin of positions and entries in flight', () => {
    expect(initialMargin(-1000, 5)).toBe(200);
    // cap 10× above the exchange's 2×: margin binds first. 1,000 equity − 300 used − 600/2 in flight
    const wide = { ...base, maxLeverage: 10, leverage: 2, stopDistance: 0.1 };
    const r = checkEntry({ ...wide, quantity: 50, grossExposure: 600, marginUsed: 300, pendingExposure: 600 });
    expect(r.ok && r.quantity * 100).toBeCloseTo(2 * 400, 10);
    expect(r.ok && r.notes.at(-1)).toMatch(/free margin/);
    const none = checkEntry({ ...wide, grossExposure: 1200, marginUsed: 600, pendingExposure: 800 });
    expect(none).toMatchObject({ ok: false, rule: 'insufficient-margin', value: 0, limit: 0 });
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
