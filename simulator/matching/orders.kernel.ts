import type { SymbolFilters } from '../../pipelines/model/index.ts';
import { maxNotional } from '../../pipelines/margin/margin.kernel.ts';
import { quantityWithin } from '../../pipelines/liquidity/liquidity.kernel.ts';
import { checkAmounts, isRej, qtyClean, reject, type OrderAmounts } from '../order-rules.kernel.ts';
import type { OrderRequest, Rejection, TimeInForce } from '../order-request.ts';
import {
  ALGO_TYPES,
  ORDER_TYPES,
  bracketTable,
  type AccountState,
  type Engine,
  type EngineEvent,
  type SimOrder,
} from './engine.kernel.ts';
import { accountOf, availableBalance, leverageOf, positionOf } from './account.kernel.ts';
import { addOpen, countOpen, removeOpen, snapshot } from './book.kernel.ts';
import { fillOrder, levelQty, limitTake, remainingFor, takerPrice } from './fills.kernel.ts';

/** Placing orders: the account's rules, then a MARKET or marketable LIMIT order takes at once. */

export type PlaceResult = { ok: true; order: SimOrder; events: EngineEvent[] } | Rejection;

export const CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;

/** rules that depend on the account: client id, open-order limits, min notional, reduce-only, margin */
export function checkAccountRules(
  engine: Engine,
  account: AccountState,
  req: OrderRequest,
  amounts: OrderAmounts,
  clientOrderId: string,
  last: number,
): Rejection | undefined {
  const f = engine.cfg.filters.get(req.symbol)!;
  const t = req.type;
  const { qty, price, stopPrice } = amounts;
  const reduceOnly = req.reduceOnly === true;
  const closePosition = req.closePosition === true;
  // client order id
  if (!CLIENT_ID.test(clientOrderId)) return reject(-4015, 'Client order id is not valid.');
  if (account.openClientIds.has(clientOrderId)) return reject(-4116, 'ClientOrderId is duplicated.');

  // limits on open orders
  const counts = countOpen(engine, account.id, req.symbol);
  if (ALGO_TYPES.has(t) && counts.algo >= engine.cfg.maxNumAlgoOrders)
    return reject(-4045, 'Reach max stop order limit.');
  if (!ALGO_TYPES.has(t) && counts.plain >= engine.cfg.maxNumOrders)
    return reject(-2025, 'Reach max open order limit.');

  // min notional (reduce-only and close-position orders are exempt)
  const refPrice = price > 0 ? price : stopPrice > 0 ? stopPrice : last;
  if (!reduceOnly && !closePosition && f.minNotional > 0 && qty * refPrice < f.minNotional - 1e-9)
    return reject(
      -4164,
      `Order's notional must be no smaller than ${f.minNotional.toFixed(1)} (unless you choose reduce only)`,
    );

  const pos = positionOf(account, req.symbol);
  const dir = req.side === 'BUY' ? 1 : -1;
  // a reduce-only MARKET/LIMIT that cannot reduce is refused now; conditional ones are checked when they trigger
  if (reduceOnly && (t === 'MARKET' || t === 'LIMIT') && !(pos.amount * dir < 0))
    return reject(-2022, 'ReduceOnly Order is rejected.');

  // margin: only the part that opens or adds exposure needs margin
  if (!reduceOnly && !closePosition) {
    const opening = pos.amount * dir >= 0 ? qty : Math.max(0, qty - Math.abs(pos.amount));
    const need = (opening * refPrice) / leverageOf(engine, account, req.symbol);
    // the brackets cap the position a leverage may hold (Binance/Aster -2027)
    const brackets = bracketTable(engine).get(req.symbol);
    const after = Math.abs(pos.amount + dir * qty) * refPrice;
    if (opening > 0 && brackets !== undefined && after > maxNotional(brackets, leverageOf(engine, account, req.symbol)))
      return reject(-2027, 'Exceeded the maximum allowable position at current leverage.');
    if (opening > 0 && need > availableBalance(engine, account) + 1e-9) return reject(-2019, 'Margin is insufficient.');
  }

  return undefined;
}

/**
 * Validates and places an order. MARKET orders and marketable LIMIT orders fill at once unless
 * `deferFill` is set (then the order stays NEW until `fillAtMarket`).
 */
export function placeOrder(
  engine: Engine,
  accountId: string,
  req: OrderRequest,
  time: number,
  opts: { deferFill?: boolean } = {},
): PlaceResult {
  const f = engine.cfg.filters.get(req.symbol);
  const last = engine.last.get(req.symbol);
  if (!f || last === undefined) return reject(-1121, 'Invalid symbol.');
  if (req.side !== 'BUY' && req.side !== 'SELL') return reject(-1117, 'Invalid side.');
  if (!ORDER_TYPES.includes(req.type)) return reject(-1116, 'Invalid orderType.');
  const account = accountOf(engine, accountId);
  const t = req.type;
  const closePosition = req.closePosition === true;
  const reduceOnly = req.reduceOnly === true;
  const tif: TimeInForce = req.timeInForce ?? 'GTC';
  if (!['GTC', 'IOC', 'FOK', 'GTX'].includes(tif)) return reject(-1115, 'Invalid timeInForce.');
  if (t === 'LIMIT' && req.timeInForce === undefined)
    return reject(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");

  if (closePosition) {
    if (t !== 'STOP_MARKET' && t !== 'TAKE_PROFIT_MARKET')
      return reject(-4136, 'Target strategy invalid for orderType ' + t + ',closePosition true');
    if (req.quantity !== undefined) return reject(-1106, "Parameter 'quantity' sent when not required.");
    if (reduceOnly) return reject(-1106, "Parameter 'reduceOnly' sent when not required.");
  }

  const amounts = checkAmounts(f, req, last);
  if (isRej(amounts)) return amounts;
  const { qty, price, stopPrice, activatePrice, priceRate } = amounts;

  const clientOrderId = req.clientOrderId ?? `sim_${engine.nextOrderId}`;
  const refused = checkAccountRules(engine, account, req, amounts, clientOrderId, last);
  if (refused) return refused;

  // post-only that would take
  const marketable = t === 'LIMIT' && (req.side === 'BUY' ? price >= last : price <= last);
  if (t === 'LIMIT' && tif === 'GTX' && marketable)
    return reject(-5022, 'Due to the order could not be executed as maker, the Post Only order will be rejected.');

  const order: SimOrder = {
    orderId: engine.nextOrderId++,
    account: accountId,
    symbol: req.symbol,
    clientOrderId,
    side: req.side,
    type: t,
    origType: t,
    timeInForce: tif,
    price,
    stopPrice,
    origQty: qty,
    executedQty: 0,
    cumQuote: 0,
    avgPrice: 0,
    reduceOnly,
    closePosition,
    workingType: req.workingType ?? 'CONTRACT_PRICE',
    priceProtect: req.priceProtect === true,
    status: 'NEW',
    time,
    updateTime: time,
    triggered: false,
    extreme: last,
    activated: t === 'TRAILING_STOP_MARKET' && activatePrice === undefined,
    pending: false,
    ...(activatePrice !== undefined ? { activatePrice } : t === 'TRAILING_STOP_MARKET' ? { activatePrice: last } : {}),
    ...(priceRate !== undefined ? { priceRate } : {}),
  };
  account.orders.set(order.orderId, order);
  const events: EngineEvent[] = [];

  if (t === 'LIMIT' && !marketable && (tif === 'IOC' || tif === 'FOK')) {
    // nothing to take: accepted and expired at once, as the exchange does
    events.push(snapshot(order, 'NEW', time));
    order.status = 'EXPIRED';
    events.push(snapshot(order, 'EXPIRED', time));
    return { ok: true, order, events };
  }

  addOpen(engine, account, order);
  events.push(snapshot(order, 'NEW', time));
  if (t === 'MARKET' || marketable) {
    if (opts.deferFill) order.pending = true;
    else if (t === 'MARKET') {
      const qty = remainingFor(order, account);
      fillOrder(engine, order, qty, takerPrice(engine, f, order, last, qty), false, time, events);
    } else takeAsLimit(engine, f, order, account, last, time, events);
  }
  return { ok: true, order, events };
}

/**
 * A marketable LIMIT takes what the modelled levels hold up to its price: FOK all or nothing (else
 * EXPIRED), IOC what it can (the rest EXPIRED), GTC what it can (the rest rests on the book).
 */
export function takeAsLimit(
  engine: Engine,
  f: SymbolFilters,
  o: SimOrder,
  account: AccountState,
  last: number,
  time: number,
  events: EngineEvent[],
): void {
  const want = remainingFor(o, account);
  const model = engine.cfg.liquidity;
  const bps = engine.cfg.slippageBps / 10_000;
  const touch = o.side === 'BUY' ? last * (1 + bps) : last * (1 - bps);
  const room =
    model === undefined ? Infinity : quantityWithin(model, touch, o.side, o.price, levelQty(engine, f, o.symbol));
  const step = f.stepSize > 0 ? f.stepSize : 1e-8;
  const qty = room >= want ? want : qtyClean(Math.floor(room / step + 1e-9) * step);
  if (qty < want && (o.timeInForce === 'FOK' || qty <= 0)) {
    if (o.timeInForce === 'GTC') return; // nothing within the limit now: it rests
    o.status = 'EXPIRED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
    return;
  }
  fillOrder(engine, o, qty, limitTake(engine, f, o, last, qty), false, time, events);
  if (o.timeInForce === 'IOC' && o.status === 'PARTIALLY_FILLED') {
    o.status = 'EXPIRED';
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
  }
}

/**
 * Fills a deferred or partially filled MARKET order (fault injection): `fraction` of what remains,
 * at the latest price with slippage. Returns no events if the order is no longer open.
 */
export function fillAtMarket(engine: Engine, orderId: number, fraction: number, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const book of engine.open.values()) {
    const o = book.get(orderId);
    if (!o) continue;
    const f = engine.cfg.filters.get(o.symbol)!;
    const account = accountOf(engine, o.account);
    const rest = remainingFor(o, account);
    const step = f.marketStepSize > 0 ? f.marketStepSize : f.stepSize;
    let qty = fraction >= 1 ? rest : Math.floor((rest * fraction) / step + 1e-9) * step;
    if (qty <= 0 && rest > 0) qty = rest;
    o.pending = false;
    const px =
      o.type === 'LIMIT'
        ? limitTake(engine, f, o, engine.last.get(o.symbol)!, qty)
        : takerPrice(engine, f, o, engine.last.get(o.symbol)!, qty);
    fillOrder(engine, o, qty, px, false, time, events);
    if (o.status === 'PARTIALLY_FILLED') o.pending = true;
    return events;
  }
  return events;
}
