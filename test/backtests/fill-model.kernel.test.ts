import { describe, expect, it } from 'vitest';
import {
  fundingTimesBetween,
  slipped,
  stopTriggerPrice,
  takeProfitTriggerPrice,
} from '../../backtests/fill-model.kernel.ts';

describe('fill model', () => {
  it('charges slippage against the taker', () => {
    expect(slipped(100, 'BUY', 10)).toBeCloseTo(100.1, 12);
    expect(slipped(100, 'SELL', 10)).toBeCloseTo(99.9, 12);
  });

  it('fills a long stop at the stop, or at the worse open when the bar gapped through it', () => {
    expect(stopTriggerPrice(1, 95, { open: 100, high: 101, low: 94 })).toBe(95);
    expect(stopTriggerPrice(1, 95, { open: 93, high: 96, low: 92 })).toBe(93);
    expect(stopTriggerPrice(1, 95, { open: 100, high: 101, low: 95.5 })).toBeNaN();
    expect(stopTriggerPrice(-1, 105, { open: 107, high: 108, low: 104 })).toBe(107);
  });

  it('fills a target at the target, or at the better open on a gap', () => {
    expect(takeProfitTriggerPrice(1, 110, { open: 100, high: 111, low: 99 })).toBe(110);
    expect(takeProfitTriggerPrice(1, 110, { open: 112, high: 113, low: 111 })).toBe(112);
    expect(takeProfitTriggerPrice(-1, 90, { open: 95, high: 96, low: 89 })).toBe(90);
  });

  it('lists the 8-hour funding times in (after, upTo]', () => {
    const h8 = 8 * 3_600_000;
    expect(fundingTimesBetween(0, h8)).toEqual([h8]);
    expect(fundingTimesBetween(h8, h8)).toEqual([]);
    expect(fundingTimesBetween(h8 - 1, 3 * h8)).toEqual([h8, 2 * h8, 3 * h8]);
  });
});
