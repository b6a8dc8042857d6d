import type { SymbolFilters } from '../pipelines/model/index.ts';
import type { Engine, Position, SimFill, SimOrder } from './matching.kernel.ts';

/** Aster JSON shapes: decimals as strings, ids/times as numbers. */

export function decimalsOfStep(step: number): number {
  if (!(step > 0)) return 8;
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

export interface Formats {
  price(n: number): string;
  qty(n: number): string;
}

export function formatsFor(f: SymbolFilters | undefined): Formats {
  // pricePrecision / quantityPrecision of exchangeInfo (ETH: tick "0.10" but 2 decimals, as the real bars have)
  const pd = f ? Math.max(f.pricePrecision, decimalsOfStep(f.tickSize)) : 8;
  const qd = f ? Math.max(f.quantityPrecision, decimalsOfStep(f.stepSize)) : 8;
  return { price: (n) => n.toFixed(pd), qty: (n) => n.toFixed(qd) };
}

export const money = (n: number): string => n.toFixed(8);

export function orderJson(o: SimOrder, f: Formats): Record<string, unknown> {
  const out: Record<string, unknown> = {
    orderId: o.orderId,
    symbol: o.symbol,
    status: o.status,
    clientOrderId: o.clientOrderId,
    price: f.price(o.price),
    avgPrice: o.executedQty > 0 ? o.avgPrice.toFixed(5) : '0.00000',
    origQty: f.qty(o.origQty),
    executedQty: f.qty(o.executedQty),
    cumQty: f.qty(o.executedQty),
    cumQuote: o.cumQuote.toFixed(5),
    timeInForce: o.timeInForce,
    type: o.type,
    reduceOnly: o.reduceOnly,
    closePosition: o.closePosition,
    side: o.side,
    positionSide: 'BOTH',
    stopPrice: f.price(o.stopPrice),
    workingType: o.workingType,
    priceProtect: o.priceProtect,
    origType: o.origType,
    time: o.time,
    updateTime: o.updateTime,
  };
  if (o.type === 'TRAILING_STOP_MARKET') {
    out.activatePrice = f.price(o.activatePrice ?? 0);
    out.priceRate = String(o.priceRate ?? 0);
  }
  return out;
}

export function orderTradeUpdate(
  o: SimOrder,
  execType: string,
  fill: SimFill | undefined,
  f: Formats,
  eventTime: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    s: o.symbol,
    c: o.clientOrderId,
    S: o.side,
    o: o.type,
    f: o.timeInForce,
    q: f.qty(o.origQty),
    p: f.price(o.price),
    ap: o.executedQty > 0 ? o.avgPrice.toFixed(5) : '0',
    sp: f.price(o.stopPrice),
    x: execType,
    X: o.status,
    i: o.orderId,
    l: fill ? f.qty(fill.qty) : '0',
    z: f.qty(o.executedQty),
    L: fill ? f.price(fill.price) : '0',
    T: o.updateTime,
    t: fill ? fill.id : 0,
    b: '0',
    a: '0',
    m: fill ? fill.maker : false,
    R: o.reduceOnly,
    wt: o.workingType,
    ot: o.origType,
    ps: 'BOTH',
    cp: o.closePosition,
    rp: fill ? money(fill.realizedPnl) : '0',
  };
  if (fill) {
    body.N = 'USDT';
    body.n = money(fill.commission);
  }
  if (o.type === 'TRAILING_STOP_MARKET') {
    body.AP = f.price(o.activatePrice ?? 0);
    body.cr = String(o.priceRate ?? 0);
  }
  return { e: 'ORDER_TRADE_UPDATE', E: eventTime, T: o.updateTime, o: body };
}

export function positionRow(
  engine: Engine,
  p: Position,
  leverage: number,
  f: Formats,
  lastFallback: number,
  margin: { liquidationPrice: number; maxNotionalValue: string } = { liquidationPrice: 0, maxNotionalValue: '1000000' },
  isolated = false,
): Record<string, unknown> {
  const mark = engine.last.get(p.symbol) ?? lastFallback;
  const upnl = p.amount * (mark - p.entryPrice);
  return {
    symbol: p.symbol,
    positionAmt: f.qty(p.amount),
    entryPrice: p.entryPrice.toFixed(8),
    markPrice: mark.toFixed(8),
    unRealizedProfit: money(p.amount === 0 ? 0 : upnl),
    liquidationPrice: p.amount === 0 ? '0' : margin.liquidationPrice.toFixed(8),
    leverage: String(leverage),
    maxNotionalValue: margin.maxNotionalValue,
    marginType: isolated ? 'isolated' : 'cross',
    // Binance: isolatedMargin = isolated wallet + unrealised PnL
    isolatedMargin: isolated ? money(p.isolatedWallet + (p.amount === 0 ? 0 : upnl)) : '0.00000000',
    isAutoAddMargin: 'false',
    positionSide: 'BOTH',
    notional: money(p.amount * mark),
    isolatedWallet: isolated ? money(p.isolatedWallet) : '0',
    updateTime: p.updateTime,
  };
}
