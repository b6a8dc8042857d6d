import { reject } from '../order-rules.kernel.ts';
import type { Rejection } from '../order-request.ts';
import {
  ALGO_TYPES,
  type AccountState,
  type Engine,
  type EngineEvent,
  type ExecType,
  type SimFill,
  type SimOrder,
} from './engine.kernel.ts';

/** The book of open orders: adding, removing, finding, listing and cancelling them, and their order events. */

export function countOpen(engine: Engine, account: string, symbol: string): { plain: number; algo: number } {
  let plain = 0;
  let algo = 0;
  for (const o of engine.open.get(symbol)?.values() ?? []) {
    if (o.account !== account) continue;
    if (ALGO_TYPES.has(o.origType)) algo++;
    else plain++;
  }
  return { plain, algo };
}

export function addOpen(engine: Engine, account: AccountState, o: SimOrder): void {
  let book = engine.open.get(o.symbol);
  if (!book) engine.open.set(o.symbol, (book = new Map()));
  book.set(o.orderId, o);
  account.openClientIds.set(o.clientOrderId, o.orderId);
}

export function removeOpen(engine: Engine, o: SimOrder): void {
  engine.open.get(o.symbol)?.delete(o.orderId);
  const a = engine.accounts.get(o.account);
  if (a && a.openClientIds.get(o.clientOrderId) === o.orderId) a.openClientIds.delete(o.clientOrderId);
}

export function snapshot(o: SimOrder, execType: ExecType, time: number, fill?: SimFill): EngineEvent {
  return { kind: 'order', account: o.account, order: { ...o }, execType, time, ...(fill ? { fill } : {}) };
}

export type CancelResult = { ok: true; order: SimOrder; events: EngineEvent[] } | Rejection;

export function findOrder(
  engine: Engine,
  accountId: string,
  symbol: string,
  orderId?: number,
  clientOrderId?: string,
): SimOrder | undefined {
  const account = engine.accounts.get(accountId);
  if (!account) return undefined;
  if (orderId !== undefined) {
    const o = account.orders.get(orderId);
    return o && o.symbol === symbol ? o : undefined;
  }
  if (clientOrderId !== undefined) {
    const open = account.openClientIds.get(clientOrderId);
    if (open !== undefined) return account.orders.get(open);
    // the most recent order with this client id
    let found: SimOrder | undefined;
    for (const o of account.orders.values()) if (o.clientOrderId === clientOrderId && o.symbol === symbol) found = o;
    return found;
  }
  return undefined;
}

export function cancelOrder(
  engine: Engine,
  accountId: string,
  symbol: string,
  orderId: number | undefined,
  clientOrderId: string | undefined,
  time: number,
): CancelResult {
  const o = findOrder(engine, accountId, symbol, orderId, clientOrderId);
  if (!o) return reject(-2011, 'Unknown order sent.');
  if (o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED') return reject(-2011, 'Unknown order sent.');
  o.status = 'CANCELED';
  o.updateTime = time;
  removeOpen(engine, o);
  return { ok: true, order: o, events: [snapshot(o, 'CANCELED', time)] };
}

export function cancelAll(engine: Engine, accountId: string, symbol: string, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const o of [...(engine.open.get(symbol)?.values() ?? [])]) {
    if (o.account !== accountId) continue;
    o.status = 'CANCELED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'CANCELED', time));
  }
  return events;
}

export function openOrders(engine: Engine, accountId: string, symbol?: string): SimOrder[] {
  const out: SimOrder[] = [];
  for (const [s, book] of engine.open)
    if (symbol === undefined || s === symbol) for (const o of book.values()) if (o.account === accountId) out.push(o);
  return out;
}
