import { maxLeverage } from '../../pipelines/margin/margin.kernel.ts';
import { reject } from '../order-rules.kernel.ts';
import type { Rejection } from '../order-request.ts';
import {
  bracketTable,
  type AccountState,
  type Engine,
  type EngineEvent,
  type MarginType,
  type Position,
} from './engine.kernel.ts';
import { openOrders } from './book.kernel.ts';

/**
 * Accounts: balances, positions, leverage and margin type per symbol, the available balance, and
 * funding payments.
 */

export function isIsolated(account: AccountState, symbol: string): boolean {
  return account.marginType.get(symbol) === 'ISOLATED';
}

/** The cross wallet: the wallet balance less what isolated positions hold. */
export function crossWallet(account: AccountState): number {
  let iso = 0;
  for (const p of account.positions.values()) if (p.amount !== 0) iso += p.isolatedWallet;
  return account.balance - iso;
}

export function accountOf(engine: Engine, id: string): AccountState {
  let a = engine.accounts.get(id);
  if (!a) {
    a = {
      id,
      balance: engine.cfg.initialBalance,
      positions: new Map(),
      leverage: new Map(),
      marginType: new Map(),
      orders: new Map(),
      openClientIds: new Map(),
      fills: [],
      realized: new Map(),
      fundingPaid: 0,
    };
    engine.accounts.set(id, a);
  }
  return a;
}

export function leverageOf(engine: Engine, account: AccountState, symbol: string): number {
  return account.leverage.get(symbol) ?? engine.cfg.defaultLeverage;
}

export function positionOf(account: AccountState, symbol: string): Position {
  let p = account.positions.get(symbol);
  if (!p) {
    p = { symbol, amount: 0, entryPrice: 0, updateTime: 0, isolatedWallet: 0 };
    account.positions.set(symbol, p);
  }
  return p;
}

/** Unrealised PnL of a position at the latest price. */
export function unrealised(engine: Engine, p: Position): number {
  const last = engine.last.get(p.symbol);
  return last === undefined || p.amount === 0 ? 0 : p.amount * (last - p.entryPrice);
}

/** Cross wallet + cross unrealised − initial margin of cross positions and open orders (isolated margin is in its wallets). */
export function availableBalance(engine: Engine, account: AccountState): number {
  let upnl = 0;
  let used = 0;
  for (const p of account.positions.values()) {
    if (p.amount === 0 || isIsolated(account, p.symbol)) continue;
    upnl += unrealised(engine, p);
    used += (Math.abs(p.amount) * (engine.last.get(p.symbol) ?? p.entryPrice)) / leverageOf(engine, account, p.symbol);
  }
  return crossWallet(account) + upnl - used - openOrderMargin(engine, account);
}

export function openOrderMargin(engine: Engine, account: AccountState): number {
  let m = 0;
  for (const book of engine.open.values())
    for (const o of book.values()) {
      if (o.account !== account.id || o.reduceOnly || o.closePosition) continue;
      const px = o.price > 0 ? o.price : (engine.last.get(o.symbol) ?? 0);
      m += ((o.origQty - o.executedQty) * px) / leverageOf(engine, account, o.symbol);
    }
  return m;
}

/** Funding at `mark`: longs pay `rate × notional` when the rate is positive, shorts receive it. */
export function applyFunding(engine: Engine, symbol: string, rate: number, mark: number, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const payment = -p.amount * mark * rate;
    account.balance += payment;
    // an isolated position pays and receives funding through its own wallet
    if (isIsolated(account, symbol)) p.isolatedWallet += payment;
    account.fundingPaid -= payment;
    events.push({ kind: 'account', account: account.id, reason: 'FUNDING_FEE', symbols: [symbol], time });
  }
  return events;
}

/** Sets a symbol's leverage (1–125). */
export function setLeverage(
  engine: Engine,
  accountId: string,
  symbol: string,
  leverage: number,
): Rejection | undefined {
  if (!engine.cfg.filters.has(symbol)) return reject(-1121, 'Invalid symbol.');
  if (!Number.isInteger(leverage) || leverage < 1 || leverage > 125) return reject(-4028, 'Leverage is not valid');
  // the bracket of the position's notional sets the ceiling (Binance answers -4028 too)
  const brackets = bracketTable(engine).get(symbol);
  const account = accountOf(engine, accountId);
  if (brackets !== undefined) {
    const p = account.positions.get(symbol);
    const notional = p ? Math.abs(p.amount) * (engine.last.get(symbol) ?? p.entryPrice) : 0;
    if (leverage > maxLeverage(brackets, notional)) return reject(-4028, `Leverage ${leverage} is not valid`);
  }
  account.leverage.set(symbol, leverage);
  return undefined;
}

/**
 * Sets a symbol's margin type (Binance/Aster rules: nothing to change -4046; not while the account
 * has open orders on the symbol -4047, nor a position -4048).
 */
export function setMarginType(
  engine: Engine,
  accountId: string,
  symbol: string,
  type: MarginType,
): Rejection | undefined {
  if (!engine.cfg.filters.has(symbol)) return reject(-1121, 'Invalid symbol.');
  const account = accountOf(engine, accountId);
  if ((account.marginType.get(symbol) ?? 'CROSSED') === type) return reject(-4046, 'No need to change margin type.');
  if (openOrders(engine, accountId, symbol).length > 0)
    return reject(-4047, 'Margin type cannot be changed if there exists open orders.');
  if ((account.positions.get(symbol)?.amount ?? 0) !== 0)
    return reject(-4048, 'Margin type cannot be changed if there exists position.');
  account.marginType.set(symbol, type);
  return undefined;
}
