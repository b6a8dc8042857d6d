import { SapphireError } from '../errors.ts';

/**
 * The one margin and liquidation model of Sapphire (USDT-margined perpetuals, cross margin,
 * one-way mode), shared by the backtest venue, the portfolio books and the exchange simulator so
 * that all three agree to the cent. Pure: no I/O, no clock.
 *
 * - initial margin = notional / leverage
 * - maintenance margin = notional × maintMarginRatio − cum, from the bracket the notional falls in
 *   (the `/fapi/v1/leverageBracket` table)
 * - margin balance = wallet balance + unrealised PnL of every position
 * - the account is liquidated when margin balance < total maintenance margin (cross margin)
 * - an ISOLATED position is liquidated alone, when its isolated wallet + its unrealised PnL falls
 *   to its maintenance margin (`isolatedLiquidationPrice`)
 */

export interface LeverageBracket {
  readonly bracket: number;
  /** the highest leverage allowed while the notional is in this bracket */
  readonly initialLeverage: number;
  readonly notionalCap: number;
  readonly notionalFloor: number;
  readonly maintMarginRatio: number;
  readonly cum: number;
}

export interface SymbolBrackets {
  readonly symbol: string;
  readonly brackets: readonly LeverageBracket[];
}

/** brackets per symbol, each list sorted by notionalFloor */
export type BracketTable = ReadonlyMap<string, readonly LeverageBracket[]>;

const FIELDS = ['bracket', 'initialLeverage', 'notionalCap', 'notionalFloor', 'maintMarginRatio', 'cum'] as const;

/**
 * Parses a `/fapi/v1/leverageBracket` reply (numbers or numeric strings, as ccxt saves them).
 * `source` names the file in errors.
 */
export function parseLeverageBrackets(json: unknown, source: string): Map<string, LeverageBracket[]> {
  const bad = (what: string): never => {
    throw new SapphireError('SETTINGS_INVALID', `leverage brackets ${source}: ${what}`);
  };
  const rows = Array.isArray(json) ? json : json !== null && typeof json === 'object' ? [json] : bad('not a list');
  const out = new Map<string, LeverageBracket[]>();
  for (const [i, row] of (rows as unknown[]).entries()) {
    const r = row as { symbol?: unknown; brackets?: unknown };
    if (typeof r.symbol !== 'string' || !Array.isArray(r.brackets) || r.brackets.length === 0)
      bad(`entry ${i} needs a symbol and a non-empty brackets list`);
    const list: LeverageBracket[] = [];
    for (const [j, b] of (r.brackets as Record<string, unknown>[]).entries()) {
      const v = {} as Record<(typeof FIELDS)[number], number>;
      for (const k of FIELDS) {
        const x = Number(b[k]);
        if (b[k] === undefined || b[k] === null || !Number.isFinite(x) || x < 0)
          bad(`${String(r.symbol)} bracket ${j}: ${k} is ${JSON.stringify(b[k])}, expected a number ≥ 0`);
        v[k] = x;
      }
      if (!(v.notionalCap > v.notionalFloor) || !(v.initialLeverage >= 1) || !(v.maintMarginRatio < 1))
        bad(`${String(r.symbol)} bracket ${v.bracket}: needs notionalCap > notionalFloor, leverage ≥ 1, ratio < 1`);
      list.push(v);
    }
    list.sort((a, b) => a.notionalFloor - b.notionalFloor);
    if (list[0]!.notionalFloor !== 0) bad(`${String(r.symbol)}: the first bracket must start at notional 0`);
    out.set(r.symbol as string, list);
  }
  return out;
}

export function bracketsOf(
  table: BracketTable,
  symbol: string,
  source = 'the leverage bracket table',
): readonly LeverageBracket[] {
  const b = table.get(symbol);
  if (b === undefined)
    throw new SapphireError(
      'SETTINGS_INVALID',
      `no leverage brackets for ${symbol} in ${source}: add its /fapi/v1/leverageBracket reply to LEVERAGE_BRACKETS_FILE`,
    );
  return b;
}

/** The bracket `notional` falls in (floor inclusive); beyond the last cap, the last bracket. */
export function bracketFor(brackets: readonly LeverageBracket[], notional: number): LeverageBracket {
  for (const b of brackets) if (notional < b.notionalCap) return b;
  return brackets[brackets.length - 1]!;
}

export function initialMargin(notional: number, leverage: number): number {
  return Math.abs(notional) / leverage;
}

export function maintenanceMargin(brackets: readonly LeverageBracket[], notional: number): number {
  const n = Math.abs(notional);
  if (n === 0) return 0;
  const b = bracketFor(brackets, n);
  return n * b.maintMarginRatio - b.cum;
}

/** The highest leverage the exchange allows for a position of `notional` (the bracket's initialLeverage). */
export function maxLeverage(brackets: readonly LeverageBracket[], notional = 0): number {
  return bracketFor(brackets, Math.abs(notional)).initialLeverage;
}

/** The largest notional a position may reach at `leverage` (the cap of the last bracket allowing it). */
export function maxNotional(brackets: readonly LeverageBracket[], leverage: number): number {
  let cap = 0;
  for (const b of brackets) if (b.initialLeverage >= leverage) cap = Math.max(cap, b.notionalCap);
  return cap;
}

export interface MarginPosition {
  readonly symbol: string;
  /** signed: > 0 long */
  readonly qty: number;
  readonly entry: number;
  readonly mark: number;
}

export interface AccountMargin {
  readonly walletBalance: number;
  readonly unrealized: number;
  /** wallet balance + unrealised PnL */
  readonly marginBalance: number;
  readonly initialMargin: number;
  readonly maintenanceMargin: number;
}

export function accountMargin(
  walletBalance: number,
  positions: Iterable<MarginPosition>,
  table: BracketTable,
  leverageOf: (symbol: string) => number,
): AccountMargin {
  let unrealized = 0;
  let im = 0;
  let mm = 0;
  for (const p of positions) {
    if (p.qty === 0) continue;
    const notional = Math.abs(p.qty) * p.mark;
    unrealized += p.qty * (p.mark - p.entry);
    im += initialMargin(notional, leverageOf(p.symbol));
    mm += maintenanceMargin(bracketsOf(table, p.symbol), notional);
  }
  return {
    walletBalance,
    unrealized,
    marginBalance: walletBalance + unrealized,
    initialMargin: im,
    maintenanceMargin: mm,
  };
}

/** Cross margin: liquidation when the margin balance is at or below the total maintenance margin. */
export function isLiquidatable(m: AccountMargin): boolean {
  return m.maintenanceMargin > 0 && m.marginBalance <= m.maintenanceMargin;
}

/**
 * The price of `symbol` at which the account's margin balance equals its maintenance margin, the
 * other positions held at their marks (cross margin, Binance's formula):
 *   W + U_other + q (P − E) = MM_other + |q| P mmr − cum   ⇒   P = (MM_other − cum − W − U_other + q E) / (q − |q| mmr)
 * solved in each bracket and kept where |q| P falls inside it. 0 when no positive price
 * liquidates (a long backed by more than its notional; Binance also shows 0 then).
 */
export function liquidationPrice(
  walletBalance: number,
  positions: readonly MarginPosition[],
  symbol: string,
  table: BracketTable,
): number {
  const own = positions.find((p) => p.symbol === symbol && p.qty !== 0);
  if (own === undefined) return 0;
  let uOther = 0;
  let mmOther = 0;
  for (const p of positions) {
    if (p === own || p.qty === 0) continue;
    uOther += p.qty * (p.mark - p.entry);
    mmOther += maintenanceMargin(bracketsOf(table, p.symbol), Math.abs(p.qty) * p.mark);
  }
  return solveLiquidation(own.qty, own.entry, bracketsOf(table, symbol), walletBalance, uOther, mmOther);
}

/**
 * ISOLATED margin: the position stands alone on its isolated wallet (the margin assigned to it), so
 * it is liquidated when isolatedWallet + q (P − E) = |q| P mmr − cum, whatever the account's other
 * positions and cross wallet do:   P = (q E − isolatedWallet − cum) / (q − |q| mmr),
 * solved in each bracket as the cross formula is. 0 when no positive price liquidates.
 */
export function isolatedLiquidationPrice(
  isolatedWallet: number,
  position: Pick<MarginPosition, 'qty' | 'entry'>,
  brackets: readonly LeverageBracket[],
): number {
  if (position.qty === 0) return 0;
  return solveLiquidation(position.qty, position.entry, brackets, isolatedWallet, 0, 0);
}

/**
 * The price P where wallet + uOther + q (P − E) equals mmOther + the position's maintenance margin
 * |q| P mmr − cum, in the bracket |q| P falls in (the last bracket beyond its cap). For an isolated
 * position the wallet is its isolated wallet and there are no others. (Terms in this order so cross
 * prices stay bit-for-bit what they were.)
 */
function solveLiquidation(
  q: number,
  entry: number,
  brackets: readonly LeverageBracket[],
  wallet: number,
  uOther: number,
  mmOther: number,
): number {
  const aq = Math.abs(q);
  for (const b of brackets) {
    const p = (mmOther - b.cum - wallet - uOther + q * entry) / (q - aq * b.maintMarginRatio);
    if (!(p > 0)) continue;
    const n = aq * p;
    if (n >= b.notionalFloor && (n < b.notionalCap || b === brackets[brackets.length - 1])) return p;
  }
  return 0;
}

/**
 * Where a liquidation at `liqPrice` happens inside a bar for a position of `side`: at the open when
 * the bar opens beyond it (a gap), at the liquidation price when the bar's range reaches it, NaN
 * when it does not. Never outside [low, high].
 */
export function liquidationFillPrice(
  side: 1 | -1,
  liqPrice: number,
  bar: { open: number; high: number; low: number },
): number {
  if (!(liqPrice > 0)) return Number.NaN;
  if (side === 1) {
    if (bar.open <= liqPrice) return bar.open;
    return bar.low <= liqPrice ? liqPrice : Number.NaN;
  }
  if (bar.open >= liqPrice) return bar.open;
  return bar.high >= liqPrice ? liqPrice : Number.NaN;
}

/**
 * The liquidation (clearance) fee on a liquidated position: `rate` × notional, but never more than
 * the margin balance left after the close (what is left goes to the insurance fund; a negative
 * margin balance pays nothing). Binance and Aster charge it the same way; Aster's exchangeInfo
 * lists the rate per symbol as `liquidationFee` (0.025 for BTC, ETH and SOL on 2026-01-12).
 */
export function liquidationFee(notional: number, rate: number, marginBalanceAfterClose: number): number {
  return Math.max(0, Math.min(Math.abs(notional) * rate, marginBalanceAfterClose));
}
