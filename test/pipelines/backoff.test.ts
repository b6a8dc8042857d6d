import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../pipelines/backoff.ts';

describe('backoffDelay (the one back-off rule)', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, 250, 4000))).toEqual([250, 500, 1000, 2000, 4000, 4000]);
    expect(backoffDelay(-1, 250, 4000)).toBe(250);
    // huge attempt counts neither overflow nor pass the cap
    expect(backoffDelay(10_000, 1000, 30_000)).toBe(30_000);
    expect(backoffDelay(3, 1000, Infinity)).toBe(8000);
  });

  it('with a random source, draws from half to all of the delay', () => {
    expect(backoffDelay(2, 100, 10_000, () => 0)).toBe(200);
    expect(backoffDelay(2, 100, 10_000, () => 0.5)).toBe(300);
    expect(backoffDelay(2, 100, 10_000, () => 0.999)).toBeCloseTo(399.8, 6);
    expect(backoffDelay(20, 100, 1000, () => 0)).toBe(500);
  });
});
