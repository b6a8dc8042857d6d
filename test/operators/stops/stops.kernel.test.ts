import { describe, expect, it } from 'vitest';
import {
  initialStopPrice,
  stepTrail,
  takeProfitPrice,
  type TrailState,
} from '../../../operators/stops/stops.kernel.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';

describe('stop kernel', () => {
  it('places the initial stop ATR multiples away and the target REWARD_TO_RISK stop distances away', () => {
    expect(initialStopPrice(100, 1, 3)).toBe(97);
    expect(initialStopPrice(100, -1, 3)).toBe(103);
    expect(takeProfitPrice(100, 1, 3, 2)).toBe(106);
    expect(takeProfitPrice(100, -1, 3, 2)).toBe(94);
  });

  it('does not trail before price has moved the buffer in favour', () => {
    const s: TrailState = { side: 1, entry: 100, stop: 97, best: 100, trailing: false };
    expect(stepTrail(s, 100.9, 0.01, 0.002)).toBe(false);
    expect(s.stop).toBe(97);
  });

  it('trails one buffer behind the best price once active, in steps of at least TRAILING_STEP', () => {
    const s: TrailState = { side: 1, entry: 100, stop: 97, best: 100, trailing: false };
    expect(stepTrail(s, 102, 0.01, 0.002)).toBe(true);
    expect(s.stop).toBeCloseTo(100.98, 10);
    // +0.1 % on the best price is under the 0.2 % step: no update
    expect(stepTrail(s, 102.1, 0.01, 0.002)).toBe(false);
    expect(stepTrail(s, 103, 0.01, 0.002)).toBe(true);
    expect(s.stop).toBeCloseTo(101.97, 10);
  });

  it('mirrors for shorts', () => {
    const s: TrailState = { side: -1, entry: 100, stop: 103, best: 100, trailing: false };
    expect(stepTrail(s, 98, 0.01, 0.002)).toBe(true);
    expect(s.stop).toBeCloseTo(98.98, 10);
  });

  it('never loosens over a real price path, long or short', () => {
    const bars = fixtureBars('ETHUSDT');
    for (const side of [1, -1] as const) {
      const entry = bars[0]!.close;
      const s: TrailState = { side, entry, stop: entry * (1 - side * 0.02), best: entry, trailing: false };
      let prev = s.stop;
      for (const b of bars) {
        stepTrail(s, side === 1 ? b.high : b.low, 0.005, 0.001);
        expect(side === 1 ? s.stop >= prev : s.stop <= prev).toBe(true);
        prev = s.stop;
      }
      expect(s.trailing).toBe(true);
    }
  });
});
