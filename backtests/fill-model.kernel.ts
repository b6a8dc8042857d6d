/**
 * How the simulated venue prices fills against a bar whose path inside is unknown. Every choice
 * leans against us: market orders pay slippage on the open, a stop gapped through fills at the
 * (worse) open, and when one bar touches both the stop and the target, the stop is assumed first.
 */

/** BUY pays up, SELL receives less */
export function slipped(price: number, side: 'BUY' | 'SELL', slippageBps: number): number {
  return side === 'BUY' ? price * (1 + slippageBps / 10_000) : price * (1 - slippageBps / 10_000);
}

export interface BarRange {
  open: number;
  high: number;
  low: number;
}

/**
 * A slipped fill inside the bar: slippage never prints a price the bar did not trade, so the fill
 * is clamped to [low, high] (a fill at a gap open is the open itself, always inside).
 */
export function slippedInBar(price: number, side: 'BUY' | 'SELL', slippageBps: number, bar: BarRange): number {
  return Math.min(bar.high, Math.max(bar.low, slipped(price, side, slippageBps)));
}

/**
 * Price at which a protective order closing a `positionSide` position triggers inside the bar,
 * or NaN when it does not. Stops fill at the stop, or at the open when the bar gapped through it;
 * take-profits at the target, or at the (better) open on a gap.
 */
export function stopTriggerPrice(positionSide: 1 | -1, stop: number, bar: BarRange): number {
  if (positionSide === 1) return bar.low <= stop ? Math.min(bar.open, stop) : Number.NaN;
  return bar.high >= stop ? Math.max(bar.open, stop) : Number.NaN;
}

export function takeProfitTriggerPrice(positionSide: 1 | -1, target: number, bar: BarRange): number {
  if (positionSide === 1) return bar.high >= target ? Math.max(bar.open, target) : Number.NaN;
  return bar.low <= target ? Math.min(bar.open, target) : Number.NaN;
}

/** Funding times (every 8 h from 00:00 UTC) in (after, upTo]. */
export function fundingTimesBetween(after: number, upTo: number, periodMs = 8 * 3_600_000): number[] {
  const out: number[] = [];
  for (let t = Math.floor(after / periodMs) * periodMs + periodMs; t <= upTo; t += periodMs) out.push(t);
  return out;
}

/** |fill / reference − 1| in basis points */
export function slippageBps(fill: number, reference: number): number {
  return Math.abs(fill / reference - 1) * 10_000;
}
