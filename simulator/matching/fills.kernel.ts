import type { SymbolFilters } from '../../pipelines/model/index.ts';
import { roundToTick } from '../../operators/execution/precision.kernel.ts';
import { levelQuantity, walkPrice } from '../../pipelines/liquidity/liquidity.kernel.ts';
import { qtyClean } from '../order-rules.kernel.ts';
import type { Side } from '../order-request.ts';
import type { AccountState, Engine, EngineEvent, SimFill, SimOrder } from './engine.kernel.ts';
import { accountOf, isIsolated, leverageOf, positionOf } from './account.kernel.ts';
import { moveIsolatedWallet } from './margin.kernel.ts';
import { removeOpen, snapshot } from './book.kernel.ts';

/**
 * Fills: the taker's price walking the modelled book (pipelines/liquidity), what an order may still
 * fill, and applying one fill to the position, the wallet and the order.
 */

/** A marketable limit takes at the latest price with slippage and impact, never beyond its limit. */
export function limitTake(engine: Engine, f: SymbolFilters, o: SimOrder, last: number, qty: number): number {
  const px = takerPrice(engine, f, o, last, qty);
  return o.side === 'BUY' ? Math.min(px, o.price) : Math.max(px, o.price);
}

/** modelled depth per level of the symbol's book (Infinity: no model, or no bar seen yet) */
export function levelQty(engine: Engine, f: SymbolFilters, symbol: string): number {
  const model = engine.cfg.liquidity;
  const volume = engine.volume.get(symbol);
  return model === undefined || volume === undefined ? Infinity : levelQuantity(model, volume, f.minQty);
}

/** slippage-touch, then `qty` walking the modelled levels, rounded to the tick against the taker */
export function takerPrice(
  engine: Engine,
  f: SymbolFilters,
  o: { side: Side; symbol: string },
  px: number,
  qty: number,
): number {
  const bps = engine.cfg.slippageBps / 10_000;
  const touch = o.side === 'BUY' ? px * (1 + bps) : px * (1 - bps);
  const model = engine.cfg.liquidity;
  const avg = model === undefined ? touch : walkPrice(model, touch, o.side, qty, levelQty(engine, f, o.symbol));
  return o.side === 'BUY' ? roundToTick(avg, f.tickSize, 'up') : roundToTick(avg, f.tickSize, 'down');
}

/** Quantity this order may still fill, given reduce-only / close-position rules. */
export function remainingFor(o: SimOrder, account: AccountState): number {
  const pos = account.positions.get(o.symbol)?.amount ?? 0;
  const dir = o.side === 'BUY' ? 1 : -1;
  if (o.closePosition) return pos * dir < 0 ? Math.abs(pos) : 0;
  const rest = qtyClean(o.origQty - o.executedQty);
  if (o.reduceOnly) return pos * dir < 0 ? Math.min(rest, Math.abs(pos)) : 0;
  return rest;
}

/** Applies one fill: fees, position, realised PnL, order state; pushes order + account + trade events. */
export function fillOrder(
  engine: Engine,
  o: SimOrder,
  qtyIn: number,
  price: number,
  maker: boolean,
  time: number,
  events: EngineEvent[],
  commissionOverride?: number,
): void {
  const account = accountOf(engine, o.account);
  const qty = qtyClean(qtyIn);
  if (!(qty > 0)) {
    // reduce-only / close-position with nothing to reduce
    o.status = 'EXPIRED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
    return;
  }
  const pos = positionOf(account, o.symbol);
  const dir = o.side === 'BUY' ? 1 : -1;
  const before = pos.amount;
  let realized = 0;
  if (pos.amount === 0 || Math.sign(pos.amount) === dir) {
    const newAbs = Math.abs(pos.amount) + qty;
    pos.entryPrice = (Math.abs(pos.amount) * pos.entryPrice + qty * price) / newAbs;
    pos.amount = qtyClean(pos.amount + dir * qty);
  } else {
    const closing = Math.min(qty, Math.abs(pos.amount));
    realized = closing * (price - pos.entryPrice) * Math.sign(pos.amount);
    const rest = qtyClean(qty - closing);
    pos.amount = qtyClean(pos.amount + dir * closing);
    if (pos.amount === 0) pos.entryPrice = 0;
    if (rest > 0) {
      pos.amount = qtyClean(dir * rest);
      pos.entryPrice = price;
    }
  }
  pos.updateTime = time;
  if (isIsolated(account, o.symbol))
    moveIsolatedWallet(pos, before, qty, dir, price, leverageOf(engine, account, o.symbol));
  const quote = qty * price;
  const commission = commissionOverride ?? quote * (maker ? engine.cfg.makerFee : engine.cfg.takerFee);
  account.balance += realized - commission;
  const fill: SimFill = {
    id: engine.nextTradeId++,
    orderId: o.orderId,
    account: o.account,
    symbol: o.symbol,
    side: o.side,
    price,
    qty,
    quoteQty: quote,
    commission,
    commissionAsset: 'USDT',
    realizedPnl: realized,
    maker,
    time,
  };
  account.fills.push(fill);
  if (realized !== 0) account.realized.set(o.symbol, (account.realized.get(o.symbol) ?? 0) + realized);
  if (o.closePosition && o.origQty === 0) o.origQty = qty;
  o.executedQty = qtyClean(o.executedQty + qty);
  o.cumQuote += quote;
  o.avgPrice = o.cumQuote / o.executedQty;
  o.updateTime = time;
  const done = o.closePosition || o.executedQty >= o.origQty - 1e-12 || (o.reduceOnly && pos.amount === 0);
  o.status = done ? 'FILLED' : 'PARTIALLY_FILLED';
  if (done) removeOpen(engine, o);
  events.push(snapshot(o, 'TRADE', time, fill));
  events.push({ kind: 'account', account: o.account, reason: 'ORDER', symbols: [o.symbol], time });
  events.push({ kind: 'trade', symbol: o.symbol, price, qty, buyerIsMaker: o.side === 'SELL', tradeId: fill.id, time });
}
