/**
 * Pure risk checks. Each returns the quantity allowed (possibly scaled down) or a refusal rule.
 */

export type RiskCheck =
  | { ok: true; quantity: number; notes: string[] }
  | { ok: false; rule: string; detail: string; value: number; limit: number };

export interface EntryRiskInput {
  quantity: number;
  price: number;
  stopDistance: number;
  equity: number;
  grossExposure: number;
  openPositions: number;
  maxPositionRisk: number;
  maxLeverage: number;
  maxConcurrent: number;
  /** multiplier on new sizes while the symbol is being delevered (1 otherwise) */
  sizeScale: number;
}

/**
 * Caps an entry: scale for delever, cap the loss at the initial stop to MAX_POSITION_RISK of
 * equity, fit the notional inside the portfolio leverage cap, refuse when no room is left.
 */
export function checkEntry(x: EntryRiskInput): RiskCheck {
  if (!(x.equity > 0))
    return { ok: false, rule: 'no-equity', detail: 'equity is not positive', value: x.equity, limit: 0 };
  if (x.openPositions >= x.maxConcurrent) {
    return {
      ok: false,
      rule: 'max-concurrent-positions',
      detail: 'open positions and pending entries at the limit',
      value: x.openPositions,
      limit: x.maxConcurrent,
    };
  }
  const notes: string[] = [];
  let q = x.quantity;
  if (x.sizeScale < 1) {
    q *= x.sizeScale;
    notes.push(`delever scale ${x.sizeScale}`);
  }
  const maxLoss = x.maxPositionRisk * x.equity;
  if (q * x.stopDistance > maxLoss) {
    q = maxLoss / x.stopDistance;
    notes.push(`capped to MAX_POSITION_RISK ${x.maxPositionRisk} of equity at the stop`);
  }
  const room = x.maxLeverage * x.equity - x.grossExposure;
  if (room <= 0) {
    return {
      ok: false,
      rule: 'max-portfolio-leverage',
      detail: 'gross exposure already at the leverage cap',
      value: x.grossExposure / x.equity,
      limit: x.maxLeverage,
    };
  }
  if (q * x.price > room) {
    q = room / x.price;
    notes.push(`fitted inside MAX_PORTFOLIO_LEVERAGE ${x.maxLeverage}`);
  }
  return { ok: true, quantity: q, notes };
}

/** Stop-outs within the last `window` bars (bar indices, ascending) */
export function stopOutsInWindow(stopBars: readonly number[], nowBar: number, window: number): number {
  let count = 0;
  for (let i = stopBars.length - 1; i >= 0 && nowBar - stopBars[i]! < window; i--) count++;
  return count;
}
