import { isLiquidatable, liquidationFee } from '../../pipelines/margin/margin.kernel.ts';
import type { AccountState, Engine, EngineEvent, SimOrder } from './engine.kernel.ts';
import { isIsolated } from './account.kernel.ts';
import { liquidationPriceOf, marginOf } from './margin.kernel.ts';
import { cancelAll } from './book.kernel.ts';
import { fillOrder } from './fills.kernel.ts';

/**
 * Liquidation on the bar path: the first liquidation price a price move reaches, and closing a
 * position there by a LIQUIDATION order (cross: the account's other positions follow while needed).
 */

/** Is `price` reached when the price moves a → b (b inclusive, a exclusive unless a === b)? */
export function reached(a: number, b: number, price: number): boolean {
  return a === b ? price === b : a > b ? price >= b && price < a : price <= b && price > a;
}

/** The liquidation price of `symbol` nearest to `a` that the move a → b reaches, over all accounts. */
export function firstLiquidation(engine: Engine, symbol: string, a: number, b: number): number | undefined {
  let best: number | undefined;
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const liq = liquidationPriceOf(engine, account, symbol);
    if (!(liq > 0)) continue;
    // a long is liquidated on the way down, a short on the way up
    if (p.amount > 0 ? !(b < a) : !(b > a)) continue;
    if (!reached(a, b, liq)) continue;
    if (best === undefined || Math.abs(liq - a) < Math.abs(best - a)) best = liq;
  }
  return best;
}

/**
 * Liquidates every account whose `symbol` position is at or beyond its liquidation price with the
 * latest price at `at`: that position at `at`, then, cross margin, the account's other positions at
 * their latest prices while it stays at or below maintenance.
 */
export function liquidateCrossed(
  engine: Engine,
  symbol: string,
  at: number,
  time: number,
  events: EngineEvent[],
): void {
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const liq = liquidationPriceOf(engine, account, symbol);
    if (!(liq > 0) || (p.amount > 0 ? at > liq : at < liq)) continue;
    liquidatePosition(engine, account, symbol, at, time, events);
    // an isolated position goes alone; a cross one takes the other cross positions while needed
    if (isIsolated(account, symbol)) continue;
    for (const other of [...account.positions.values()]) {
      if (other.amount === 0 || other.symbol === symbol || isIsolated(account, other.symbol)) continue;
      if (!isLiquidatable(marginOf(engine, account))) break;
      liquidatePosition(engine, account, other.symbol, engine.last.get(other.symbol) ?? other.entryPrice, time, events);
    }
  }
}

/** Closes one position by a LIQUIDATION order: open orders on the symbol are cancelled first. */
export function liquidatePosition(
  engine: Engine,
  account: AccountState,
  symbol: string,
  price: number,
  time: number,
  events: EngineEvent[],
): void {
  const p = account.positions.get(symbol);
  if (!p || p.amount === 0) return;
  events.push(...cancelAll(engine, account.id, symbol, time));
  const qty = Math.abs(p.amount);
  // margin balance left once this position is closed at `price`: what the fee may take (isolated:
  // its own wallet; below zero on a gap, and that shortfall is not the cross wallet's to pay)
  const isolated = isIsolated(account, symbol);
  const after = isolated
    ? p.isolatedWallet + p.amount * (price - p.entryPrice)
    : marginOf(engine, account).marginBalance + p.amount * (price - (engine.last.get(symbol) ?? price));
  const order: SimOrder = {
    orderId: engine.nextOrderId++,
    account: account.id,
    symbol,
    clientOrderId: `autoclose-${time}-${engine.nextOrderId}`,
    side: p.amount > 0 ? 'SELL' : 'BUY',
    type: 'LIQUIDATION',
    origType: 'LIQUIDATION',
    timeInForce: 'IOC',
    price,
    stopPrice: 0,
    origQty: qty,
    executedQty: 0,
    cumQuote: 0,
    avgPrice: 0,
    reduceOnly: true,
    closePosition: false,
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    status: 'NEW',
    time,
    updateTime: time,
    triggered: false,
    extreme: price,
    activated: false,
    pending: false,
  };
  account.orders.set(order.orderId, order);
  const fee = liquidationFee(qty * price, engine.cfg.liquidationFee ?? 0.025, after);
  fillOrder(engine, order, qty, price, false, time, events, fee);
  if (isolated && after < 0) account.balance -= after;
}
