import type { AsterIncome, AsterOrder, AsterUserTrade } from './schemas.ts';
import type { FundingIncome, OrderUpdate, UserEvent } from './user-events.ts';

/**
 * Reading back over REST what the user-data socket did not deliver: fills (userTrades), orders
 * that ended without a fill, and funding (the income ledger). The one catch-up routine of the
 * user stream, run at start (before anything is sent) and after every reconnect.
 */

/** REST reads for the catch-up (AsterRestClient has them all) */
export interface UserCatchUpApi {
  openOrders(): Promise<readonly AsterOrder[]>;
  allOrders(q: { symbol: string; limit: number }): Promise<readonly AsterOrder[]>;
  userTrades(q: {
    symbol: string;
    startTime?: number;
    fromId?: number;
    limit: number;
  }): Promise<readonly AsterUserTrade[]>;
  income(q: { incomeType: 'FUNDING_FEE'; startTime: number; limit: number }): Promise<readonly AsterIncome[]>;
}

/** one event read back, with its dedupe key and where it goes in time */
export interface MissedEvent {
  readonly time: number;
  readonly seq: number;
  readonly event: UserEvent;
  readonly key: string;
}

export interface CatchUpRead {
  /** exchange time from which trades, order ends and funding are read */
  readonly since: number;
  /** symbols read besides any with an open order */
  readonly symbols: readonly string[];
  /** fills only (start): order ends and funding are left to the journal's own reconciliation */
  readonly fillsOnly?: boolean;
  /** funding only (an ACCOUNT_UPDATE FUNDING_FEE without its amount) */
  readonly fundingOnly?: boolean;
}

/** a transient REST failure retried a bounded number of times (the stream's back-off) */
export type Retried = <T>(fetch: () => Promise<T>) => Promise<T>;

const PAGE = 1000;
const MAX_PAGES = 20;

/** a fill by its trade id; an order's end (no fill) by order id and status; other updates: none */
export function orderKey(e: OrderUpdate): string | null {
  if (e.executionType === 'TRADE' && e.lastQty > 0)
    return e.tradeId > 0 ? `trade:${e.symbol}:${e.tradeId}` : `trade:${e.symbol}:${e.orderId}:${e.cumQty}`;
  if (e.executionType === 'CANCELED' || e.executionType === 'EXPIRED' || e.status === 'REJECTED')
    return `end:${e.symbol}:${e.orderId}:${e.status}`;
  return null;
}

export function fundingKey(asset: string, time: number, amount: number): string {
  return `funding:${asset}:${time}:${amount.toFixed(8)}`;
}

/** Every trade of `symbol` from `since`, page by page (bounded), each trade once. */
async function tradesSince(
  api: UserCatchUpApi,
  retried: Retried,
  symbol: string,
  since: number,
): Promise<AsterUserTrade[]> {
  const out: AsterUserTrade[] = [];
  let page = await retried(() => api.userTrades({ symbol, startTime: since, limit: PAGE }));
  for (let n = 1; ; n++) {
    out.push(...page);
    if (page.length < PAGE || n >= MAX_PAGES) break;
    const fromId = Math.max(...page.map((t) => t.id)) + 1;
    page = await retried(() => api.userTrades({ symbol, fromId, limit: PAGE }));
  }
  const ids = new Set<number>();
  return out.filter((t) => !ids.has(t.id) && (ids.add(t.id), true));
}

/**
 * Trades → TRADE order updates, oldest first. The cumulative quantity after each trade is what
 * its order has executed now, less its later trades (so it is right even when earlier trades of
 * the order fall before `since`).
 */
export function tradeEvents(
  trades: readonly AsterUserTrade[],
  orders: readonly AsterOrder[],
  since: number,
): MissedEvent[] {
  const byId = new Map(orders.map((o) => [o.orderId, o]));
  const recent = trades.filter((t) => t.time >= since).sort((a, b) => a.id - b.id);
  const out: MissedEvent[] = [];
  for (const [i, t] of recent.entries()) {
    const o = byId.get(t.orderId);
    const later = recent.slice(i + 1).filter((x) => x.orderId === t.orderId);
    const executed = o?.executedQty ?? recent.filter((x) => x.orderId === t.orderId).reduce((a, x) => a + x.qty, 0);
    const cumQty = executed - later.reduce((a, x) => a + x.qty, 0);
    const status = later.length === 0 && o !== undefined ? o.status : 'PARTIALLY_FILLED';
    const e = tradeUpdate(t, o, cumQty, status === 'NEW' ? 'PARTIALLY_FILLED' : status);
    out.push({ time: t.time, seq: t.id, event: e, key: orderKey(e)! });
  }
  return out;
}

/** orders that ended (cancelled, expired, rejected) without a fill since `since` */
export function endEvents(orders: readonly AsterOrder[], since: number): MissedEvent[] {
  const out: MissedEvent[] = [];
  for (const o of orders) {
    const at = o.updateTime ?? o.time ?? 0;
    if (at < since || (o.executedQty ?? 0) > 0) continue;
    if (o.status !== 'CANCELED' && o.status !== 'EXPIRED' && o.status !== 'REJECTED') continue;
    const e = endUpdate(o, at);
    out.push({ time: at, seq: o.orderId, event: e, key: orderKey(e)! });
  }
  return out;
}

export function fundingEvents(income: readonly AsterIncome[], since: number): MissedEvent[] {
  const out: MissedEvent[] = [];
  for (const r of income) {
    if (r.incomeType !== 'FUNDING_FEE' || r.time < since) continue;
    const e: FundingIncome = {
      kind: 'funding-income',
      symbol: r.symbol ?? '',
      asset: r.asset,
      income: r.income,
      time: r.time,
      tranId: r.tranId,
    };
    out.push({ time: r.time, seq: r.tranId, event: e, key: `funding-tran:${r.tranId}` });
  }
  return out;
}

/** What the exchange holds since `read.since`, as user events in time order (not yet deduplicated). */
export async function readMissedEvents(
  api: UserCatchUpApi,
  retried: Retried,
  read: CatchUpRead,
): Promise<MissedEvent[]> {
  const out: MissedEvent[] = [];
  if (read.fundingOnly !== true) {
    const open = await retried(() => api.openOrders());
    const symbols = [...new Set([...read.symbols, ...open.map((o) => o.symbol)])];
    for (const symbol of symbols) {
      const [all, trades] = await Promise.all([
        retried(() => api.allOrders({ symbol, limit: PAGE })),
        tradesSince(api, retried, symbol, read.since),
      ]);
      out.push(...tradeEvents(trades, all, read.since));
      if (read.fillsOnly !== true) out.push(...endEvents(all, read.since));
    }
  }
  if (read.fillsOnly !== true) {
    const income = await retried(() => api.income({ incomeType: 'FUNDING_FEE', startTime: read.since, limit: PAGE }));
    out.push(...fundingEvents(income, read.since));
  }
  return out.sort((a, b) => a.time - b.time || a.seq - b.seq);
}

/**
 * At start the journal already holds some fills of an order (without trade ids): a trade read
 * back counts only for the quantity beyond what is known for its client order id, so a fill is
 * never journaled twice across restarts. `known` (client order id → cumulative quantity passed on:
 * the journal's at start, then every fill emitted) is updated as trades are kept; events that are
 * not trades pass through.
 */
export function beyondKnown(events: readonly MissedEvent[], known: Map<string, number>): MissedEvent[] {
  const out: MissedEvent[] = [];
  for (const x of events) {
    const e = x.event;
    if (e.kind !== 'order-update' || e.executionType !== 'TRADE') {
      out.push(x);
      continue;
    }
    const held = known.get(e.clientOrderId) ?? 0;
    const eps = 1e-12 * Math.max(1, e.cumQty);
    if (held >= e.cumQty - eps) continue;
    known.set(e.clientOrderId, e.cumQty);
    // the trade's own quantity unless part of it is already known (float noise stays out)
    const overlap = held > e.cumQty - e.lastQty + eps;
    out.push(overlap ? { ...x, event: { ...e, lastQty: e.cumQty - held } } : x);
  }
  return out;
}

function tradeUpdate(t: AsterUserTrade, o: AsterOrder | undefined, cumQty: number, status: string): OrderUpdate {
  return {
    kind: 'order-update',
    eventTime: t.time,
    symbol: t.symbol,
    clientOrderId: o?.clientOrderId ?? '',
    orderId: t.orderId,
    side: t.side === 'SELL' ? 'SELL' : 'BUY',
    orderType: o?.type ?? '',
    executionType: 'TRADE',
    status,
    origQty: o?.origQty ?? cumQty,
    price: o?.price ?? 0,
    avgPrice: o?.avgPrice ?? 0,
    stopPrice: o?.stopPrice ?? 0,
    lastQty: t.qty,
    lastPrice: t.price,
    cumQty,
    commission: t.commission ?? 0,
    commissionAsset: t.commissionAsset ?? '',
    tradeTime: t.time,
    tradeId: t.id,
    isMaker: t.maker ?? false,
    reduceOnly: o?.reduceOnly ?? false,
    closePosition: o?.closePosition ?? false,
    positionSide: t.positionSide ?? o?.positionSide ?? 'BOTH',
    realizedPnl: t.realizedPnl ?? 0,
  };
}

function endUpdate(o: AsterOrder, at: number): OrderUpdate {
  return {
    kind: 'order-update',
    eventTime: at,
    symbol: o.symbol,
    clientOrderId: o.clientOrderId,
    orderId: o.orderId,
    side: o.side === 'SELL' ? 'SELL' : 'BUY',
    orderType: o.type,
    executionType: o.status === 'REJECTED' ? 'REJECTED' : o.status,
    status: o.status,
    origQty: o.origQty ?? 0,
    price: o.price ?? 0,
    avgPrice: o.avgPrice ?? 0,
    stopPrice: o.stopPrice ?? 0,
    lastQty: 0,
    lastPrice: 0,
    cumQty: 0,
    commission: 0,
    commissionAsset: '',
    tradeTime: at,
    tradeId: 0,
    isMaker: false,
    reduceOnly: o.reduceOnly ?? false,
    closePosition: o.closePosition ?? false,
    positionSide: o.positionSide ?? 'BOTH',
    realizedPnl: 0,
  };
}
