/**
 * Stop math shared by the backtest venue, the live bot-side stops and sizing. Long positions
 * have stops below price; shorts above. A stop never loosens.
 */

export function initialStopDistance(atr: number, multiple: number): number {
  return atr * multiple;
}

export function initialStopPrice(entry: number, side: 1 | -1, distance: number): number {
  return entry - side * distance;
}

export function takeProfitPrice(entry: number, side: 1 | -1, distance: number, rewardToRisk: number): number {
  return entry + side * distance * rewardToRisk;
}

export interface TrailState {
  side: 1 | -1;
  entry: number;
  stop: number;
  /** best price seen since entry (highest for long, lowest for short) */
  best: number;
  /** the stop has started trailing */
  trailing: boolean;
}

/**
 * Advances the trailing stop with a bar's extreme in our favour. Once the best price is
 * `buffer` (fraction of entry) in profit, the stop trails `buffer` behind the best price and moves
 * only when it can improve by at least `step` × price. Returns true when the stop moved.
 */
export function stepTrail(s: TrailState, favourableExtreme: number, buffer: number, step: number): boolean {
  if (s.side === 1 ? favourableExtreme > s.best : favourableExtreme < s.best) s.best = favourableExtreme;
  const excursion = s.side === 1 ? s.best / s.entry - 1 : 1 - s.best / s.entry;
  if (excursion < buffer) return false;
  const candidate = s.side === 1 ? s.best * (1 - buffer) : s.best * (1 + buffer);
  const improvement = s.side === 1 ? candidate - s.stop : s.stop - candidate;
  if (improvement < step * s.best) return false;
  s.stop = candidate;
  s.trailing = true;
  return true;
}
