/**
 * Windowed indicators over a fixed ring buffer, for the two trading-signals keeps slow: its
 * Bollinger bands and Donchian channel push onto and shift a JavaScript array every bar and then
 * rescan or copy it (map, map, reduce). These give the same numbers — the contract test compares
 * them exactly with trading-signals bar by bar — with no allocation but the answer.
 */

export interface RollingBands {
  readonly upper: number;
  readonly middle: number;
  readonly lower: number;
}

/**
 * Bollinger bands: the mean of the last `period` prices ± `deviations` population standard
 * deviations. Sums run oldest to newest, as trading-signals' reduce does, so the rounding is the
 * same and so are the values.
 */
export class RollingBollinger {
  private readonly prices: Float64Array;
  private next = 0;
  private count = 0;

  constructor(
    readonly period: number,
    readonly deviations: number,
  ) {
    this.prices = new Float64Array(period);
  }

  update(price: number): RollingBands | null {
    const n = this.period;
    this.prices[this.next] = price;
    this.next = this.next + 1 === n ? 0 : this.next + 1;
    if (this.count < n) this.count++;
    if (this.count < n) return null;
    // once full, `next` is the oldest price
    let sum = 0;
    for (let i = 0, j = this.next; i < n; i++, j = j + 1 === n ? 0 : j + 1) sum += this.prices[j]!;
    const middle = sum / n;
    let squares = 0;
    for (let i = 0, j = this.next; i < n; i++, j = j + 1 === n ? 0 : j + 1) {
      const d = this.prices[j]! - middle;
      squares += d * d;
    }
    const width = Math.sqrt(squares / n) * this.deviations;
    return { lower: middle - width, middle, upper: middle + width };
  }
}

/**
 * One side of a Donchian channel: the extreme of the last `period` values in amortised O(1), by a
 * monotonic queue of candidates (a value is dropped once a later one is at least as extreme, since
 * it can never be the answer again).
 */
class RollingExtreme {
  private readonly values: Float64Array;
  private readonly ages: Float64Array;
  private head = 0;
  private size = 0;

  constructor(
    private readonly period: number,
    /** true: the largest value; false: the smallest */
    private readonly largest: boolean,
  ) {
    this.values = new Float64Array(period);
    this.ages = new Float64Array(period);
  }

  /** adds the value seen at step `at` (0, 1, 2 …) and returns the extreme of the window ending there */
  push(value: number, at: number): number {
    const n = this.period;
    if (this.size > 0 && this.ages[this.head]! <= at - n) {
      this.head = this.head + 1 === n ? 0 : this.head + 1;
      this.size--;
    }
    while (this.size > 0) {
      const tail = (this.head + this.size - 1) % n;
      const kept = this.values[tail]!;
      if (this.largest ? kept > value : kept < value) break;
      this.size--;
    }
    const slot = (this.head + this.size) % n;
    this.values[slot] = value;
    this.ages[slot] = at;
    this.size++;
    return this.values[this.head]!;
  }
}

/** Donchian channel: highest high and lowest low of the last `period` bars, this one included. */
export class RollingDonchian {
  private readonly highs: RollingExtreme;
  private readonly lows: RollingExtreme;
  private seen = 0;

  constructor(readonly period: number) {
    this.highs = new RollingExtreme(period, true);
    this.lows = new RollingExtreme(period, false);
  }

  update(high: number, low: number): RollingBands | null {
    const at = this.seen++;
    const upper = this.highs.push(high, at);
    const lower = this.lows.push(low, at);
    if (this.seen < this.period) return null;
    return { lower, middle: (upper + lower) / 2, upper };
  }
}

/**
 * Wilder's smoothing (trading-signals' WSMA): the plain mean of the first `period` inputs, then
 * `previous + (input − previous) × (1/period)`. The same operations in the same order as the
 * library, so the same numbers — without the library's inner SMA, which keeps pushing, shifting
 * and re-averaging an array on every bar long after its answer stopped being used.
 */
export class WilderSmoothing {
  private readonly factor: number;
  private sum = 0;
  private count = 0;
  private result: number | null = null;

  constructor(readonly period: number) {
    this.factor = 1 / period;
  }

  get value(): number | null {
    return this.result;
  }

  update(input: number): number | null {
    if (this.result !== null) return (this.result = (input - this.result) * this.factor + this.result);
    this.sum += input;
    if (++this.count === this.period) this.result = this.sum / this.period;
    return this.result;
  }
}

/** Wilder's RSI, 0..100, as trading-signals' RSI: smoothed gains over smoothed losses. */
export class WilderRsi {
  private readonly gains: WilderSmoothing;
  private readonly losses: WilderSmoothing;
  private previous: number | null = null;

  constructor(readonly period: number) {
    this.gains = new WilderSmoothing(period);
    this.losses = new WilderSmoothing(period);
  }

  update(price: number): number | null {
    const previous = this.previous;
    this.previous = price;
    if (previous === null) return null;
    const gain = price > previous ? price - previous : 0;
    const loss = price > previous ? 0 : previous - price;
    this.losses.update(loss);
    const avgGain = this.gains.update(gain);
    if (avgGain === null) return null;
    const avgLoss = this.losses.value!;
    if (avgLoss === 0) return 100;
    return 100 - 100 / (avgGain / avgLoss + 1);
  }
}

/** Average true range with Wilder's smoothing, as trading-signals' ATR. */
export class WilderAtr {
  private readonly smoothing: WilderSmoothing;
  private previousClose: number | null = null;

  constructor(readonly period: number) {
    this.smoothing = new WilderSmoothing(period);
  }

  update(high: number, low: number, close: number): number | null {
    const range = high - low;
    const pc = this.previousClose;
    this.previousClose = close;
    const trueRange = pc === null ? range : Math.max(range, Math.abs(high - pc), Math.abs(low - pc));
    return this.smoothing.update(trueRange);
  }
}

/**
 * Exponential moving average as trading-signals' EMA: seeded with the first input, weight
 * 2/(period+1), answering once `period` inputs are in.
 */
export class StreamingEma {
  private readonly weight: number;
  private count = 0;
  private result: number | null = null;

  constructor(readonly period: number) {
    this.weight = 2 / (period + 1);
  }

  update(price: number): number | null {
    this.result = price * this.weight + (this.result ?? price) * (1 - this.weight);
    return ++this.count >= this.period ? this.result : null;
  }
}
