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

/**
 * The stop and take-profit of a position taken over from the exchange. The bot takes it on as if
 * it entered now at the last close: a stop ATR_STOP_MULTIPLE ATRs away (TRAILING_STOP_BUFFER of the
 * price when no ATR is known yet) and a take-profit REWARD_TO_RISK stop distances away. A working
 * stop or take-profit found at the exchange is kept instead when it is still on its side of the
 * close (one beyond it would trigger at once, and the exchange refuses it).
 */
export function adoptedProtection(
  found: { readonly side: 'LONG' | 'SHORT'; readonly stopPrice: number; readonly takeProfitPrice: number },
  close: number,
  atr: number,
  s: { ATR_STOP_MULTIPLE: number; TRAILING_STOP_BUFFER: number; REWARD_TO_RISK: number },
): { stop: number; takeProfit: number } {
  const side = found.side === 'LONG' ? 1 : -1;
  const distance = atr > 0 ? initialStopDistance(atr, s.ATR_STOP_MULTIPLE) : close * s.TRAILING_STOP_BUFFER;
  const below = (price: number) => price > 0 && price * side < close * side;
  const above = (price: number) => price > 0 && price * side > close * side;
  return {
    stop: below(found.stopPrice) ? found.stopPrice : initialStopPrice(close, side, distance),
    takeProfit: above(found.takeProfitPrice)
      ? found.takeProfitPrice
      : takeProfitPrice(close, side, distance, s.REWARD_TO_RISK),
  };
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
