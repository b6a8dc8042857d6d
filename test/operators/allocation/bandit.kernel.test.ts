import { describe, expect, it } from 'vitest';
import { armMean, chooseArm, emptyArm, episodeDraw, rewardArm } from '../../../operators/allocation/bandit.kernel.ts';

describe('bandit kernel', () => {
  it('takes the mean over the last WINDOW trades, clipped', () => {
    const a = emptyArm(3);
    expect(armMean(a)).toBe(0);
    rewardArm(a, -0.5, 0.1); // clipped to −0.1
    expect(armMean(a)).toBeCloseTo(-0.1, 12);
    rewardArm(a, 0.02, 0.1);
    rewardArm(a, 0.03, 0.1);
    expect(armMean(a)).toBeCloseTo((-0.1 + 0.02 + 0.03) / 3, 12);
    rewardArm(a, 0.04, 0.1); // the −0.1 leaves the window
    expect(armMean(a)).toBeCloseTo((0.02 + 0.03 + 0.04) / 3, 12);
    expect(a.pulls).toBe(4);
  });

  it('keeps the windowed sum exact over many laps', () => {
    const a = emptyArm(7);
    const all: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = Math.sin(i) * 0.01;
      all.push(r);
      rewardArm(a, r, 1);
    }
    const last = all.slice(-7);
    expect(armMean(a)).toBeCloseTo(last.reduce((s, x) => s + x, 0) / 7, 15);
  });

  it('funds an arm with fewer than minTrades trades whatever its mean, then judges it', () => {
    const a = emptyArm(100);
    for (let i = 0; i < 4; i++) rewardArm(a, -0.01, 0.1);
    expect(chooseArm(a, 0.1, 0.99, 5)).toEqual({ take: true, explored: false });
    rewardArm(a, -0.01, 0.1);
    expect(chooseArm(a, 0.1, 0.99, 5)).toEqual({ take: false, mean: armMean(a) });
    expect(chooseArm(a, 0.1, 0.05, 5)).toEqual({ take: true, explored: true });
    // a winning window funds it again
    for (let i = 0; i < 100; i++) rewardArm(a, 0.001, 0.1);
    expect(chooseArm(a, 0.1, 0.99, 5)).toEqual({ take: true, explored: false });
  });

  it('draws once per signal episode: consecutive bars share it, a gap or a closed trade starts a new one', () => {
    const draws = [0.7, 0.05, 0.3];
    const next = () => draws.shift()!;
    const a = emptyArm(10);
    const bar = 300_000;
    expect(episodeDraw(a, 10 * bar, bar, next)).toBe(0.7);
    expect(episodeDraw(a, 11 * bar, bar, next)).toBe(0.7);
    expect(episodeDraw(a, 12 * bar, bar, next)).toBe(0.7);
    expect(episodeDraw(a, 14 * bar, bar, next)).toBe(0.05); // a bar without a decision ended it
    rewardArm(a, 0.01, 0.1);
    expect(episodeDraw(a, 15 * bar, bar, next)).toBe(0.3);
    expect(draws).toEqual([]);
  });
});
