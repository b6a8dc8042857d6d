import {
  accountMargin,
  isolatedLiquidationPrice,
  maintenanceMargin,
  liquidationPrice as marginLiquidationPrice,
  type MarginPosition,
} from '../../pipelines/margin/margin.kernel.ts';
import { bracketTable, type AccountState, type Engine, type Position } from './engine.kernel.ts';
import { crossWallet, isIsolated, leverageOf } from './account.kernel.ts';

/**
 * Margin (pipelines/margin, the same kernel as the backtest venue): cross margin over the cross
 * positions, maintenance margin, liquidation prices, and isolated positions' wallets.
 */

/** The account's cross positions (with brackets) at the latest prices, for the margin kernel. */
export function marginPositions(engine: Engine, account: AccountState): MarginPosition[] {
  const out: MarginPosition[] = [];
  const table = bracketTable(engine);
  for (const p of account.positions.values()) {
    if (p.amount === 0 || !table.has(p.symbol) || isIsolated(account, p.symbol)) continue;
    out.push({ symbol: p.symbol, qty: p.amount, entry: p.entryPrice, mark: engine.last.get(p.symbol) ?? p.entryPrice });
  }
  return out;
}

/** Cross wallet, cross margin balance, initial and maintenance margin of the cross positions at the latest prices. */
export function marginOf(engine: Engine, account: AccountState): ReturnType<typeof accountMargin> {
  return accountMargin(crossWallet(account), marginPositions(engine, account), bracketTable(engine), (s) =>
    leverageOf(engine, account, s),
  );
}

/** The maintenance margin of one position at the latest price (0 without brackets). */
export function positionMaintenance(engine: Engine, p: Position): number {
  const b = bracketTable(engine).get(p.symbol);
  return b === undefined ? 0 : maintenanceMargin(b, Math.abs(p.amount) * (engine.last.get(p.symbol) ?? p.entryPrice));
}

/** The liquidation price of the account's `symbol` position (0: none): isolated alone, else cross. */
export function liquidationPriceOf(engine: Engine, account: AccountState, symbol: string): number {
  const table = bracketTable(engine);
  const brackets = table.get(symbol);
  if (brackets === undefined) return 0;
  if (isIsolated(account, symbol)) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) return 0;
    return isolatedLiquidationPrice(p.isolatedWallet, { qty: p.amount, entry: p.entryPrice }, brackets);
  }
  return marginLiquidationPrice(crossWallet(account), marginPositions(engine, account), symbol, table);
}

/**
 * An isolated position's wallet after a fill of `qty` (direction `dir`) at `price`: what it opens
 * adds its initial margin; what it closes releases that share of the wallet to the cross wallet.
 */
export function moveIsolatedWallet(
  pos: Position,
  before: number,
  qty: number,
  dir: 1 | -1,
  price: number,
  lev: number,
): void {
  if (before === 0 || Math.sign(before) === dir) {
    pos.isolatedWallet += (qty * price) / lev;
    return;
  }
  const closing = Math.min(qty, Math.abs(before));
  pos.isolatedWallet *= (Math.abs(before) - closing) / Math.abs(before);
  const opened = qty - closing;
  if (opened > 0) pos.isolatedWallet += (opened * price) / lev;
  if (pos.amount === 0) pos.isolatedWallet = 0;
}
