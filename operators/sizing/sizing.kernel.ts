/**
 * Position sizing math. Kelly works in R-multiples (a trade's net PnL divided by the money it
 * risked at its initial stop), so the payoff ratio b and the prior REWARD_TO_RISK share units.
 */

/** The last `window` trades' R-multiples, as running sums (old trades leave the estimate). */
export interface TradeRecord {
  wins: number;
  losses: number;
  /** Σ R of winning trades */
  winR: number;
  /** Σ |R| of losing trades */
  lossR: number;
  readonly ring: Float64Array;
  count: number;
}

export function emptyRecord(window = 100): TradeRecord {
  return { wins: 0, losses: 0, winR: 0, lossR: 0, ring: new Float64Array(window), count: 0 };
}

function add(r: TradeRecord, rMultiple: number, sign: 1 | -1): void {
  if (rMultiple > 0) {
    r.wins += sign;
    r.winR += sign * rMultiple;
  } else {
    r.losses += sign;
    r.lossR -= sign * rMultiple;
  }
}

export function recordTrade(r: TradeRecord, rMultiple: number): void {
  const slot = r.count % r.ring.length;
  if (r.count >= r.ring.length) add(r, r.ring[slot]!, -1);
  r.ring[slot] = rMultiple;
  r.count++;
  add(r, rMultiple, 1);
}

export interface KellyEstimate {
  p: number;
  b: number;
  /** full Kelly fraction p − (1 − p) / b */
  full: number;
}

/**
 * Running win rate and payoff ratio, blended with a prior worth `priorTrades` trades
 * (p0 wins of b0 R, 1 − p0 losses of 1 R), so the first few trades don't swing the size.
 */
export function kellyEstimate(r: TradeRecord, p0: number, b0: number, priorTrades: number): KellyEstimate {
  const n = r.wins + r.losses;
  const p = (r.wins + p0 * priorTrades) / (n + priorTrades || 1);
  const priorWins = p0 * priorTrades;
  const priorLosses = (1 - p0) * priorTrades;
  const avgWin = (r.winR + priorWins * b0) / (r.wins + priorWins || 1);
  const avgLoss = (r.lossR + priorLosses * 1) / (r.losses + priorLosses || 1);
  const b = avgLoss > 0 ? avgWin / avgLoss : Number.POSITIVE_INFINITY;
  const full = b === Number.POSITIVE_INFINITY ? p : p - (1 - p) / b;
  return { p, b, full };
}

/** Notional fraction of equity from fractional Kelly, capped; ≤ 0 means no edge. */
export function kellyFraction(est: KellyEstimate, multiplier: number, cap: number): number {
  return Math.min(cap, est.full * multiplier);
}

/** ATR risk sizing: the quantity that loses `riskFraction` of equity at the stop. */
export function atrRiskQuantity(equity: number, riskFraction: number, stopDistance: number): number {
  return stopDistance > 0 ? (equity * riskFraction) / stopDistance : 0;
}

export interface TradeRecordData {
  wins: number;
  losses: number;
  winR: number;
  lossR: number;
  ring: number[];
  count: number;
}

export function recordToData(r: TradeRecord): TradeRecordData {
  return { wins: r.wins, losses: r.losses, winR: r.winR, lossR: r.lossR, ring: Array.from(r.ring), count: r.count };
}

export function recordFromData(d: TradeRecordData, window: number): TradeRecord {
  if (d.ring.length !== window) {
    throw new Error(`the saved Kelly window holds ${d.ring.length} trades, KELLY_WINDOW_TRADES is ${window}`);
  }
  return {
    wins: d.wins,
    losses: d.losses,
    winR: d.winR,
    lossR: d.lossR,
    ring: Float64Array.from(d.ring),
    count: d.count,
  };
}
