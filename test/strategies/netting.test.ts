import { describe, expect, it } from 'vitest';
import { netWishes } from '../../operators/signals/strategy-signals.kernel.ts';

const long = (strength: number) => ({ direction: 1 as const, strength });
const short = (strength: number) => ({ direction: -1 as const, strength });

describe('netting several strategies on one symbol (one-way mode)', () => {
  it('no view from anyone gives no signal', () => {
    expect(netWishes([null, null], 0, -1)).toEqual({ kind: 'none' });
  });

  it('strategies that agree give one signal, from the strongest (the first on a tie)', () => {
    expect(netWishes([long(0.2), null, long(0.9)], 0, -1)).toEqual({
      kind: 'signal',
      index: 2,
      direction: 1,
      strength: 0.9,
    });
    expect(netWishes([short(0.5), short(0.5)], 0, -1)).toEqual({
      kind: 'signal',
      index: 0,
      direction: -1,
      strength: 0.5,
    });
  });

  it('strategies that disagree on a flat symbol open nothing and say so', () => {
    expect(netWishes([long(0.9), short(0.1), long(0.3)], 0, -1)).toEqual({ kind: 'conflict', long: 0, short: 1 });
  });

  it('a strategy against the held position speaks for closing it, even when another agrees with it', () => {
    expect(netWishes([long(0.9), short(0.1)], 1, -1)).toEqual({
      kind: 'signal',
      index: 1,
      direction: -1,
      strength: 0.1,
    });
    expect(netWishes([long(0.9), short(0.1)], -1, -1)).toEqual({
      kind: 'signal',
      index: 0,
      direction: 1,
      strength: 0.9,
    });
  });

  it("the owner's exit rule wins over every wish", () => {
    expect(netWishes([long(1), long(1)], 1, 1)).toEqual({ kind: 'signal', index: 1, direction: -1, strength: 1 });
    // with nothing held an exit rule has nothing to close
    expect(netWishes([null], 0, 0)).toEqual({ kind: 'none' });
  });
});
