import type { Order, PositionAdopted, Side } from '../../pipelines/model/index.ts';

/**
 * A start from the exchange (START_FROM_EXCHANGE with no history of its own): what the exchange
 * holds becomes the bot's starting point instead of a history re-derived under other settings.
 * This module decides, from what the exchange says, what is taken over, what is cancelled and
 * what is left alone; the engine carries it out.
 */

/** A position as the exchange reports it (one-way mode: one signed amount per symbol). */
export interface ExchangePosition {
  readonly symbol: string;
  /** signed: > 0 long */
  readonly quantity: number;
  readonly entryPrice: number;
}

/** A working order as the exchange reports it. */
export interface ExchangeOrder {
  readonly symbol: string;
  readonly clientOrderId: string;
  /** the exchange's type (STOP_MARKET, TAKE_PROFIT_MARKET, LIMIT …) */
  readonly type: string;
  readonly side: Side;
  readonly stopPrice: number;
  readonly origQty: number;
  readonly closePosition: boolean;
  readonly reduceOnly: boolean;
  readonly time: number;
}

export interface ExchangeHoldings {
  readonly positions: readonly ExchangePosition[];
  readonly orders: readonly ExchangeOrder[];
}

export interface AdoptionPlan {
  /** positions taken over, each with the stop and take-profit found working for it */
  readonly adopted: PositionAdopted[];
  /** our stops and take-profits guarding an adopted position: the execution port replaces them */
  readonly working: Order[];
  /** our orders on a symbol we hold nothing of: cancelled (a stop left working would close the next position) */
  readonly stale: ExchangeOrder[];
  /** orders not placed by this bot: left alone, reported */
  readonly foreign: ExchangeOrder[];
}

/** The decision sequence adopted positions' protective orders are numbered under: apart from strategy and external ones. */
export const ADOPTION_SEQ_BASE = 2_000_000_000;

const PROTECTIVE_TYPES: ReadonlyMap<string, Order['type']> = new Map([
  ['STOP_MARKET', 'STOP_MARKET'],
  ['TAKE_PROFIT_MARKET', 'TAKE_PROFIT_MARKET'],
]);

/** A protective order that closes a position of `side` (it trades the other way). */
function guards(o: ExchangeOrder, side: 'LONG' | 'SHORT'): boolean {
  return (
    PROTECTIVE_TYPES.has(o.type) && (o.closePosition || o.reduceOnly) && o.side === (side === 'LONG' ? 'SELL' : 'BUY')
  );
}

/** The newest order of a type among `orders`. */
function newest(orders: readonly ExchangeOrder[], type: string): ExchangeOrder | undefined {
  let found: ExchangeOrder | undefined;
  for (const o of orders) if (o.type === type && (found === undefined || o.time >= found.time)) found = o;
  return found;
}

function asOrder(o: ExchangeOrder): Order {
  const type = PROTECTIVE_TYPES.get(o.type)!;
  return {
    kind: 'order',
    time: o.time,
    symbol: o.symbol,
    clientOrderId: o.clientOrderId,
    side: o.side,
    type,
    quantity: o.closePosition ? 0 : o.origQty,
    reduceOnly: true,
    stopPrice: o.stopPrice,
    refPrice: o.stopPrice,
    maxSlippageBps: 0,
    reason: type === 'STOP_MARKET' ? 'stop' : 'take-profit',
  };
}

/**
 * What a start from the exchange does with what it finds on the traded symbols. Each position is
 * adopted at the exchange's entry price; the bot's own newest stop and take-profit on its closing
 * side are kept as its protection (older ones, and any of ours that guard nothing, are cancelled).
 * Orders whose client order id is not the bot's are never touched.
 */
export function planAdoption(
  holdings: ExchangeHoldings,
  opts: { botId: string; symbols: readonly string[]; time: number },
): AdoptionPlan {
  const traded = new Set(opts.symbols);
  const ours = (o: ExchangeOrder) => o.clientOrderId.startsWith(`${opts.botId}-`);
  const orders = holdings.orders.filter((o) => traded.has(o.symbol));
  const plan: AdoptionPlan = { adopted: [], working: [], stale: [], foreign: orders.filter((o) => !ours(o)) };
  const seq = ADOPTION_SEQ_BASE + Math.floor(opts.time / 60_000);
  for (const symbol of opts.symbols) {
    const mine = orders.filter((o) => o.symbol === symbol && ours(o));
    const rows = holdings.positions.filter((p) => p.symbol === symbol && p.quantity !== 0);
    const quantity = rows.reduce((sum, p) => sum + p.quantity, 0);
    // one-way mode has one row; the entry price is the row on the side the bot will hold
    const position = rows.find((p) => Math.sign(p.quantity) === Math.sign(quantity));
    if (position === undefined) {
      plan.stale.push(...mine);
      continue;
    }
    const side = quantity > 0 ? 'LONG' : 'SHORT';
    const guarding = mine.filter((o) => guards(o, side));
    const stop = newest(guarding, 'STOP_MARKET');
    const takeProfit = newest(guarding, 'TAKE_PROFIT_MARKET');
    const kept = [stop, takeProfit].filter((o): o is ExchangeOrder => o !== undefined);
    plan.working.push(...kept.map(asOrder));
    plan.stale.push(...mine.filter((o) => !kept.includes(o)));
    plan.adopted.push({
      kind: 'position-adopted',
      time: opts.time,
      symbol,
      side,
      quantity: Math.abs(quantity),
      entryPrice: position.entryPrice,
      stopPrice: stop?.stopPrice ?? 0,
      takeProfitPrice: takeProfit?.stopPrice ?? 0,
      seq,
    });
  }
  return plan;
}

/** One line for the log: what the start from the exchange took over, cancelled and left alone. */
export function describeAdoption(plan: AdoptionPlan): string {
  const held = plan.adopted.map((a) => `${a.symbol} ${a.side} ${a.quantity} @ ${a.entryPrice}`);
  const parts = [`took over ${held.length === 0 ? 'no position' : held.join(', ')}`];
  if (plan.working.length > 0) parts.push(`kept ${plan.working.map((o) => o.clientOrderId).join(', ')} working`);
  if (plan.stale.length > 0)
    parts.push(`cancelled ${plan.stale.map((o) => o.clientOrderId).join(', ')} (guarding nothing)`);
  if (plan.foreign.length > 0)
    parts.push(
      `left ${plan.foreign.map((o) => `${o.clientOrderId} (${o.symbol} ${o.type})`).join(', ')} alone (not this bot's)`,
    );
  return `start from the exchange: ${parts.join('; ')}`;
}
