import type { VenuePosition, VenueSide } from './wallet-venue.ts';

/** The limits the orchestrator applies to the whole wallet (settings names as in .env). */
export interface WalletLimits {
  /** largest Kelly fraction a bot may ask for, and the largest notional fraction of equity one position may reach */
  readonly KELLY_FRACTION_CAP: number;
  /** cap on total open notional across all bots as a multiple of wallet equity */
  readonly MAX_PORTFOLIO_LEVERAGE: number;
  /** drawdown from peak wallet equity at which the wallet is halted (exits only) */
  readonly MAX_DRAWDOWN: number;
}

export interface GuardrailInput {
  readonly symbol: string;
  readonly side: VenueSide;
  readonly quantity: number;
  readonly reduceOnly: boolean;
  /** price the order's notional is valued at (limit price, else mark) */
  readonly price: number;
  readonly kellyFraction?: number | undefined;
  readonly equity: number;
  readonly peakEquity: number;
  /** every position of the wallet (all bots share it) */
  readonly positions: readonly VenuePosition[];
}

export type GuardrailRule = 'drawdown-floor' | 'kelly-cap' | 'position-cap' | 'leverage-cap' | 'no-equity';

export type GuardrailVerdict =
  | { readonly ok: true; readonly notional: number; readonly grossAfter: number }
  | {
      readonly ok: false;
      readonly rule: GuardrailRule;
      readonly value: number;
      readonly limit: number;
      readonly detail: string;
    };

export function drawdownOf(equity: number, peakEquity: number): number {
  return peakEquity > 0 ? Math.max(0, 1 - equity / peakEquity) : 0;
}

/**
 * Wallet-level guardrails, pure. Reduce-only orders only shrink exposure, so they pass every rule
 * (they are how a halted wallet exits). Order of checks: drawdown floor, Kelly cap, per-position
 * cap (the symbol's net position after the order vs equity), leverage cap (gross notional of all
 * positions after the order vs equity).
 */
export function checkGuardrails(input: GuardrailInput, limits: WalletLimits): GuardrailVerdict {
  const notional = Math.abs(input.quantity * input.price);
  const grossBefore = input.positions.reduce((acc, p) => acc + Math.abs(p.positionAmt * p.markPrice), 0);
  if (input.reduceOnly) return { ok: true, notional, grossAfter: grossBefore };
  if (!(input.equity > 0)) {
    return { ok: false, rule: 'no-equity', value: input.equity, limit: 0, detail: 'wallet equity is not positive' };
  }
  const dd = drawdownOf(input.equity, input.peakEquity);
  if (dd >= limits.MAX_DRAWDOWN) {
    return {
      ok: false,
      rule: 'drawdown-floor',
      value: dd,
      limit: limits.MAX_DRAWDOWN,
      detail: `wallet drawdown ${(dd * 100).toFixed(2)}% reached the ${(limits.MAX_DRAWDOWN * 100).toFixed(2)}% floor`,
    };
  }
  if (input.kellyFraction !== undefined && input.kellyFraction > limits.KELLY_FRACTION_CAP) {
    return {
      ok: false,
      rule: 'kelly-cap',
      value: input.kellyFraction,
      limit: limits.KELLY_FRACTION_CAP,
      detail: `Kelly fraction ${input.kellyFraction} above the cap ${limits.KELLY_FRACTION_CAP}`,
    };
  }
  const signed = input.side === 'BUY' ? input.quantity : -input.quantity;
  let found = false;
  let grossAfter = 0;
  let symbolAfter = 0;
  for (const p of input.positions) {
    if (p.symbol === input.symbol) {
      found = true;
      const mark = p.markPrice > 0 ? p.markPrice : input.price;
      symbolAfter = Math.abs((p.positionAmt + signed) * mark);
      grossAfter += symbolAfter;
    } else {
      grossAfter += Math.abs(p.positionAmt * p.markPrice);
    }
  }
  if (!found) {
    symbolAfter = notional;
    grossAfter += notional;
  }
  const positionFraction = symbolAfter / input.equity;
  if (positionFraction > limits.KELLY_FRACTION_CAP) {
    return {
      ok: false,
      rule: 'position-cap',
      value: positionFraction,
      limit: limits.KELLY_FRACTION_CAP,
      detail: `${input.symbol} position would be ${(positionFraction * 100).toFixed(2)}% of wallet equity`,
    };
  }
  const leverage = grossAfter / input.equity;
  if (leverage > limits.MAX_PORTFOLIO_LEVERAGE) {
    return {
      ok: false,
      rule: 'leverage-cap',
      value: leverage,
      limit: limits.MAX_PORTFOLIO_LEVERAGE,
      detail: `wallet leverage would be ${leverage.toFixed(3)}x`,
    };
  }
  return { ok: true, notional, grossAfter };
}
