import { describe, expect, it } from 'vitest';
import { ATR, BollingerBands, DonchianChannels, EMA, MACD, RSI, SMA } from 'trading-signals';
import { INDICATOR_NAMES, indicatorKit, type StreamingIndicator } from '../../strategies/kit/indicators.ts';
import type { Bar } from '../../pipelines/model/index.ts';
import { fixtureBars } from '../kit/fixture-bars.ts';

const bars: Bar[] = fixtureBars('BTCUSDT').slice(0, 400);
const closes = bars.map((b) => b.close);

/** each exposed indicator: how the kit makes it, and the same indicator over the whole series at once */
const cases: Record<
  (typeof INDICATOR_NAMES)[number],
  { make: () => StreamingIndicator<unknown>; whole: () => unknown[] }
> = {
  sma: { make: () => indicatorKit().sma(20), whole: () => wholeSeries(new SMA(20), closes) },
  ema: { make: () => indicatorKit().ema(20), whole: () => wholeSeries(new EMA(20), closes) },
  rsi: { make: () => indicatorKit().rsi(14), whole: () => wholeSeries(new RSI(14), closes) },
  bollinger: {
    make: () => indicatorKit().bollinger(20, 2),
    whole: () => wholeSeries(new BollingerBands(20, 2), closes),
  },
  donchian: {
    make: () => indicatorKit().donchian(30),
    whole: () =>
      wholeSeries(
        new DonchianChannels(30),
        bars.map((b) => ({ high: b.high, low: b.low })),
      ),
  },
  atr: {
    make: () => indicatorKit().atr(14),
    whole: () =>
      wholeSeries(
        new ATR(14),
        bars.map((b) => ({ high: b.high, low: b.low, close: b.close })),
      ),
  },
  macd: {
    make: () => indicatorKit().macd(12, 26, 9),
    whole: () => wholeSeries(new MACD(new EMA(12), new EMA(26), new EMA(9)), closes),
  },
};

/** the library's batch `updates()` over the whole series, null until stable, as plain values */
function wholeSeries<I>(
  ind: { updates(inputs: I[], replace: boolean): unknown[]; isStable: boolean; getRequiredInputs(): number },
  inputs: I[],
): unknown[] {
  const raw = ind.updates(inputs, false);
  const need = ind.getRequiredInputs();
  return raw.map((v, i) => (i + 1 < need || v === null ? null : plain(v)));
}

const plain = (v: unknown): unknown => (typeof v === 'object' && v !== null ? { ...(v as object) } : Number(v));

describe('indicators wrapped from trading-signals', () => {
  it('the contract covers every indicator the kit exposes', () => {
    expect(Object.keys(cases).sort()).toEqual([...INDICATOR_NAMES].sort());
  });

  it.each(INDICATOR_NAMES)('%s gives the same values bar by bar as over the whole series', (name) => {
    const c = cases[name];
    const ind = c.make();
    const streamed = bars.map((b) => ind.update(b));
    const whole = c.whole();
    const firstValue = streamed.findIndex((v) => v !== null);
    expect(firstValue).toBeGreaterThan(0);
    expect(whole.slice(firstValue).every((v) => v !== null)).toBe(true);
    for (let i = firstValue; i < bars.length; i++)
      expect(plain(streamed[i]), `${ind.label} at bar ${i}`).toEqual(whole[i]);
    // and nothing before it is stable: an indicator that answers early answers wrong
    expect(streamed.slice(0, firstValue).every((v) => v === null)).toBe(true);
  });

  // the ring-buffer Bollinger and Donchian (rolling.ts) against trading-signals over other periods,
  // widths and prices, and over every bar of the fixture: the same numbers, not just close ones
  const allBars: Bar[] = [...fixtureBars('BTCUSDT'), ...fixtureBars('ETHUSDT')];
  it.each([1, 2, 3, 7, 20, 96, 250])('Donchian(%i) equals trading-signals on every bar', (period) => {
    const ours = indicatorKit().donchian(period);
    const theirs = new DonchianChannels(period);
    for (const [i, b] of allBars.entries()) {
      const want = theirs.update({ high: b.high, low: b.low }, false);
      expect(ours.update(b), `Donchian(${period}) at bar ${i}`).toEqual(want === null ? null : plain(want));
    }
  });

  it.each([
    [2, 2, 'close'],
    [20, 2.5, 'close'],
    [59, 2.113, 'hlc3'],
    [200, 1, 'open'],
  ] as const)('Bollinger(%i, %f) of %s equals trading-signals on every bar', (period, width, of) => {
    const ours = indicatorKit().bollinger(period, width, of);
    const theirs = new BollingerBands(period, width);
    for (const [i, b] of allBars.entries()) {
      const price = of === 'hlc3' ? (b.high + b.low + b.close) / 3 : b[of];
      const want = theirs.update(price, false);
      expect(ours.update(b), `${ours.label} at bar ${i}`).toEqual(want === null ? null : plain(want));
    }
  });

  // EMA, RSI and ATR are ours too (rolling.ts): exactly the library's numbers on every bar of the
  // fixture, over short, default and long periods (a wrong seed or smoothing order shows at once)
  it.each([1, 2, 5, 14, 48, 192])('EMA, RSI and ATR over %i bars equal trading-signals on every bar', (period) => {
    const kit = indicatorKit();
    const ours = {
      ema: kit.ema(period),
      hlc3: kit.ema(period, 'hlc3'),
      rsi: kit.rsi(Math.max(2, period)),
      atr: kit.atr(period),
    };
    const theirs = {
      ema: new EMA(period),
      hlc3: new EMA(period),
      rsi: new RSI(Math.max(2, period)),
      atr: new ATR(period),
    };
    const stable = (ind: { isStable: boolean; getResult(): unknown }) =>
      ind.isStable ? Number(ind.getResult()) : null;
    let answered = 0;
    for (const [i, b] of allBars.entries()) {
      theirs.ema.update(b.close, false);
      theirs.hlc3.update((b.high + b.low + b.close) / 3, false);
      theirs.rsi.update(b.close, false);
      theirs.atr.update({ high: b.high, low: b.low, close: b.close }, false);
      expect(ours.ema.update(b), `EMA(${period}) at bar ${i}`).toBe(stable(theirs.ema));
      expect(ours.hlc3.update(b), `EMA(${period}) of hlc3 at bar ${i}`).toBe(stable(theirs.hlc3));
      expect(ours.rsi.update(b), `RSI(${Math.max(2, period)}) at bar ${i}`).toBe(stable(theirs.rsi));
      const atr = ours.atr.update(b);
      expect(atr, `ATR(${period}) at bar ${i}`).toBe(stable(theirs.atr));
      if (atr !== null) answered++;
    }
    expect(answered).toBe(allBars.length - period + 1);
  });

  it('two indicators from two kits never share state', () => {
    const a = indicatorKit().rsi(14);
    const b = indicatorKit().rsi(14);
    for (const bar of bars.slice(0, 100)) a.update(bar);
    for (const bar of bars.slice(50, 100)) b.update(bar);
    expect(b.value).not.toEqual(a.value);
  });

  it('checks its inputs: RSI(14) is labelled, RSI(0) and MACD with fast ≥ slow are refused', () => {
    expect(indicatorKit().rsi(14).label).toBe('RSI(14) of close');
    expect(() => indicatorKit().rsi(0)).toThrow(/RSI: period 0/);
    expect(() => indicatorKit().rsi(1)).toThrow(/RSI: period 1 must be a whole number of bars ≥ 2/);
    expect(() => indicatorKit().macd(26, 12, 9)).toThrow(/fast 26 must be shorter than slow 12/);
  });

  it('SMA(3) of close matches a hand computation', () => {
    const sma = indicatorKit().sma(3);
    const out = bars.slice(0, 4).map((b) => sma.update(b));
    expect(out[0]).toBeNull();
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo((closes[0]! + closes[1]! + closes[2]!) / 3, 8);
    expect(out[3]).toBeCloseTo((closes[1]! + closes[2]! + closes[3]!) / 3, 8);
  });
});
