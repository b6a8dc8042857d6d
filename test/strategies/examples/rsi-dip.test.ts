import { describe, expect, it } from 'vitest';
import strategy from '../../../strategies/examples/rsi-dip.ts';
import { checkStrategyContract } from '../../../strategies/kit/testing.ts';

describe('strategy rsi-dip', () => {
  it('keeps the strategy contract on real bars: same output twice, isolated, warm-up, no look-ahead', async () => {
    const report = await checkStrategyContract(strategy);
    expect(report.problems).toEqual([]);
    expect(report.signals).toBeGreaterThan(0);
  });
});
