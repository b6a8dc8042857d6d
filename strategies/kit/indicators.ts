import { EMA, MACD, SMA } from 'trading-signals';
import type { Bar } from '../../pipelines/model/index.ts';
import { RollingBollinger, RollingDonchian, StreamingEma, WilderAtr, WilderRsi } from './rolling.ts';

/** Which price of a bar an indicator reads. `hlc3` is the typical price (high + low + close) / 3. */
export type PriceField = 'open' | 'high' | 'low' | 'close' | 'hlc3';

export interface Bands {
  readonly upper: number;
  readonly middle: number;
  readonly lower: number;
}

export interface MacdValue {
  readonly macd: number;
  readonly signal: number;
  readonly histogram: number;
}

/**
 * A streaming indicator over closed bars: `update(bar)` adds the bar and returns the value, or
 * null until the indicator is stable (an indicator that answers early answers wrong). `value` is
 * the latest answer (null before). `label` names it for reports and errors, e.g. `RSI(14) of close`.
 */
export interface StreamingIndicator<T> {
  readonly label: string;
  readonly value: T | null;
  update(bar: Bar): T | null;
}

function priceOf(bar: Bar, field: PriceField): number {
  return field === 'hlc3' ? (bar.high + bar.low + bar.close) / 3 : bar[field];
}

/** Wraps a trading-signals indicator: reads the input from the bar, answers only once stable. */
function streaming<T, Input>(
  label: string,
  lib: { update(input: Input, replace: boolean): unknown; readonly isStable: boolean; getResult(): unknown },
  input: (bar: Bar) => Input,
  read: (raw: unknown) => T,
): StreamingIndicator<T> {
  let value: T | null = null;
  return {
    label,
    get value() {
      return value;
    },
    update(bar) {
      lib.update(input(bar), false);
      value = lib.isStable ? read(lib.getResult()) : null;
      return value;
    },
  };
}

/**
 * Wraps one of our ring-buffer indicators (rolling.ts: the same numbers as trading-signals', the
 * contract test checks it, without its per-bar array copies).
 */
function ownIndicator<T>(label: string, step: (bar: Bar) => T | null): StreamingIndicator<T> {
  let value: T | null = null;
  return {
    label,
    get value() {
      return value;
    },
    update(bar) {
      value = step(bar);
      return value;
    },
  };
}

const asNumber = (raw: unknown): number => Number(raw);
const asMacd = (raw: unknown): MacdValue => {
  const m = raw as MacdValue;
  return { macd: Number(m.macd), signal: Number(m.signal), histogram: Number(m.histogram) };
};

function checkPeriod(name: string, period: number, least = 1): void {
  if (!Number.isInteger(period) || period < least)
    throw new RangeError(`${name}: period ${period} must be a whole number of bars ≥ ${least}`);
}

/**
 * The indicators a strategy can ask for, from `trading-signals` (maintained, streaming); Bollinger,
 * Donchian, EMA, RSI and ATR are our allocation-free versions of its (rolling.ts), giving its exact
 * values faster — the contract test compares them with the library bar by bar. A kit
 * belongs to one strategy instance (one symbol, one subscription), so the indicators it makes
 * never share state with another run.
 */
export function indicatorKit() {
  return {
    /** simple moving average of a price */
    sma(period: number, of: PriceField = 'close'): StreamingIndicator<number> {
      checkPeriod('SMA', period);
      return streaming(`SMA(${period}) of ${of}`, new SMA(period), (b) => priceOf(b, of), asNumber);
    },
    /** exponential moving average (stable after `period` inputs) */
    ema(period: number, of: PriceField = 'close'): StreamingIndicator<number> {
      checkPeriod('EMA', period);
      const ema = new StreamingEma(period);
      return ownIndicator(`EMA(${period}) of ${of}`, (b) => ema.update(priceOf(b, of)));
    },
    /** Wilder's relative strength index, 0..100 */
    rsi(period: number, of: PriceField = 'close'): StreamingIndicator<number> {
      // RSI(1) only ever says 0 or 100 (and trading-signals' never answers): not an indicator
      checkPeriod('RSI', period, 2);
      const rsi = new WilderRsi(period);
      return ownIndicator(`RSI(${period}) of ${of}`, (b) => rsi.update(priceOf(b, of)));
    },
    /** Bollinger bands: SMA ± `deviations` population standard deviations */
    bollinger(period: number, deviations = 2, of: PriceField = 'close'): StreamingIndicator<Bands> {
      checkPeriod('Bollinger', period);
      const bands = new RollingBollinger(period, deviations);
      return ownIndicator(`Bollinger(${period}, ${deviations}) of ${of}`, (b) => bands.update(priceOf(b, of)));
    },
    /** Donchian channel: highest high and lowest low of the last `period` bars, this one included */
    donchian(period: number): StreamingIndicator<Bands> {
      checkPeriod('Donchian', period);
      const channel = new RollingDonchian(period);
      return ownIndicator(`Donchian(${period})`, (b) => channel.update(b.high, b.low));
    },
    /** average true range (Wilder smoothing), in price units */
    atr(period: number): StreamingIndicator<number> {
      checkPeriod('ATR', period);
      const atr = new WilderAtr(period);
      return ownIndicator(`ATR(${period})`, (b) => atr.update(b.high, b.low, b.close));
    },
    /** MACD: EMA(fast) − EMA(slow), its EMA(signal) and the histogram between them */
    macd(fast: number, slow: number, signal: number, of: PriceField = 'close'): StreamingIndicator<MacdValue> {
      checkPeriod('MACD fast', fast);
      checkPeriod('MACD slow', slow);
      checkPeriod('MACD signal', signal);
      if (fast >= slow) throw new RangeError(`MACD: fast ${fast} must be shorter than slow ${slow}`);
      return streaming(
        `MACD(${fast}, ${slow}, ${signal}) of ${of}`,
        new MACD(new EMA(fast), new EMA(slow), new EMA(signal)),
        (b) => priceOf(b, of),
        asMacd,
      );
    },
  };
}

export type IndicatorKit = ReturnType<typeof indicatorKit>;
/** Every indicator a kit exposes, by name (the contract test walks them all). */
export const INDICATOR_NAMES = Object.keys(indicatorKit()) as (keyof IndicatorKit)[];
