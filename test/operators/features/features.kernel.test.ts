import { describe, expect, it } from 'vitest';
import { standardDeviation } from 'simple-statistics';
import { FeatureState } from '../../../operators/features/features.kernel.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';

const bars = fixtureBars('BTCUSDT');
const params = { atrPeriod: 14, lookbackBars: 288, volatilityWindow: 96, barsPerDay: 288, barsPerYear: 105_120 };

/** textbook Wilder ATR over the whole prefix, recomputed from scratch */
function naiveAtr(upTo: number, period: number): number {
  const tr: number[] = [];
  for (let i = 1; i <= upTo; i++) {
    const b = bars[i]!;
    const prev = bars[i - 1]!.close;
    tr.push(Math.max(b.high - b.low, Math.abs(b.high - prev), Math.abs(b.low - prev)));
  }
  let atr = tr.slice(0, period).reduce((a, b) => a + b, 0) / period;
  for (let i = period; i < tr.length; i++) atr = (atr * (period - 1) + tr[i]!) / period;
  return atr;
}

describe('feature kernel', () => {
  it('reports nothing until every feature is warm, then every bar', () => {
    const st = new FeatureState(params);
    const firstWarm = bars.findIndex((b) => st.update(b.high, b.low, b.close));
    expect(firstWarm).toBe(st.warmUp - 1);
    expect(st.warmUp).toBe(289);
  });

  it('matches a from-scratch Wilder ATR, returns and realised volatility on real bars', () => {
    const st = new FeatureState(params);
    for (let i = 0; i < bars.length; i++) {
      const v = st;
      if (!st.update(bars[i]!.high, bars[i]!.low, bars[i]!.close) || i % 97 !== 0) continue;
      expect(v.atr).toBeCloseTo(naiveAtr(i, 14), 6);
      expect(v.lookbackReturn).toBeCloseTo(bars[i]!.close / bars[i - 288]!.close - 1, 12);
      expect(v.change24h).toBeCloseTo(bars[i]!.close / bars[i - 288]!.close - 1, 12);
      const rets = [];
      for (let k = i - 95; k <= i; k++) rets.push(Math.log(bars[k]!.close / bars[k - 1]!.close));
      expect(v.volatility).toBeCloseTo(standardDeviation(rets) * Math.sqrt(96 / 95) * Math.sqrt(105_120), 8);
    }
  });

  it('treats zero-volume maintenance bars as ordinary bars', () => {
    const zero = bars.filter((b) => b.volume === 0);
    expect(zero.length).toBeGreaterThan(0);
    const st = new FeatureState(params);
    let warm = false;
    for (const b of bars) warm = st.update(b.high, b.low, b.close);
    expect(warm).toBe(true);
    expect(Number.isFinite(st.atr) && st.atr > 0).toBe(true);
  });
});
