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
  /** Σ |notional| of the positions in the books */
  grossExposure: number;
  /** Σ notional of entries decided but not yet in the books (sent, unfilled) */
  pendingExposure: number;
  /** initial margin of the positions in the books */
  marginUsed: number;
  /** exchange leverage: initial margin = notional / leverage */
  leverage: number;
  /** positions in the books plus entries in flight */
  openPositions: number;
  maxPositionRisk: number;
  maxLeverage: number;
  maxConcurrent: number;
  /** multiplier on new sizes while the symbol is being delevered (1 otherwise) */
  sizeScale: number;
}

/** Initial margin of a notional at the exchange leverage (the venue's margin rule). */
export function initialMargin(notional: number, leverage: number): number {
  return Math.abs(notional) / leverage;
}

/**
 * Caps an entry: scale for delever, cap the loss at the initial stop to MAX_POSITION_RISK of
 * equity, fit the notional inside the portfolio leverage cap and then inside the free margin,
 * refuse when no room is left. Entries in flight count as if filled at their decision price:
 * several entries decided on one bar must share one cap, not each see the same free room.
 * Both caps scale the size down rather than refuse it, so a big wish still gets what fits.
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
  const exposure = x.grossExposure + x.pendingExposure;
  const room = x.maxLeverage * x.equity - exposure;
  if (room <= 0) {
    return {
      ok: false,
      rule: 'max-portfolio-leverage',
      detail: 'gross exposure (positions and entries in flight) already at the leverage cap',
      value: exposure / x.equity,
      limit: x.maxLeverage,
    };
  }
  if (q * x.price > room) {
    q = room / x.price;
    notes.push(`fitted inside MAX_PORTFOLIO_LEVERAGE ${x.maxLeverage}`);
  }
  const freeMargin = x.equity - x.marginUsed - initialMargin(x.pendingExposure, x.leverage);
  if (freeMargin <= 0) {
    return {
      ok: false,
      rule: 'insufficient-margin',
      detail: 'no free margin: equity minus the initial margin of positions and entries in flight',
      value: freeMargin,
      limit: 0,
    };
  }
  if (initialMargin(q * x.price, x.leverage) > freeMargin) {
    q = (freeMargin * x.leverage) / x.price;
    notes.push(`fitted inside the free margin at LEVERAGE ${x.leverage}`);
  }
  return { ok: true, quantity: q, notes };
}

/** Stop-outs within the last `window` bars (bar indices, ascending) */
export function stopOutsInWindow(stopBars: readonly number[], nowBar: number, window: number): number {
  let count = 0;
  for (let i = stopBars.length - 1; i >= 0 && nowBar - stopBars[i]! < window; i--) count++;
  return count;
}
