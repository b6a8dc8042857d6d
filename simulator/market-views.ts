import { floorToStep, roundToTick } from '../operators/execution/precision.kernel.ts';
import type { SimContext } from './context.ts';

/**
 * Views of the replayed market shared by REST and the streams. The book is derived, not invented:
 * best bid = the last price rounded DOWN to the tick, best ask = best bid + one tick, further levels
 * one tick outwards; quantities are synthetic (the last bar's volume / 100, floored to the step).
 */
export interface BookView {
  bid: number;
  ask: number;
  qty: number;
  tick: number;
  step: number;
}

export function bookView(sim: SimContext, symbol: string): BookView {
  const f = sim.filters.get(symbol)!;
  const last = sim.engine.last.get(symbol) ?? sim.replay.lastClose(symbol) ?? 0;
  const tick = f.tickSize > 0 ? f.tickSize : 1e-8;
  const bid = roundToTick(last, tick, 'down');
  const ask = roundToTick(bid + tick, tick, 'nearest');
  const s = sim.replay.bySymbol.get(symbol)!;
  const i = Math.max(0, sim.replay.lastIndex(symbol));
  const step = f.stepSize > 0 ? f.stepSize : 1e-8;
  const qty = Math.max(f.minQty, floorToStep(s.volume[i]! / 100, step));
  return { bid, ask, qty, tick, step };
}

/** `levels` price levels a side, formatted, best first (bids stop above zero) */
export function bookLevels(
  sim: SimContext,
  symbol: string,
  levels: number,
): { bids: [string, string][]; asks: [string, string][] } {
  const b = bookView(sim, symbol);
  const f = sim.fmtOf(symbol);
  const bids: [string, string][] = [];
  const asks: [string, string][] = [];
  for (let i = 0; i < levels; i++) {
    const bp = roundToTick(b.bid - i * b.tick, b.tick, 'nearest');
    if (bp > 0) bids.push([f.price(bp), f.qty(b.qty)]);
    asks.push([f.price(roundToTick(b.ask + i * b.tick, b.tick, 'nearest')), f.qty(b.qty)]);
  }
  return { bids, asks };
}

export function markPayload(sim: SimContext, symbol: string, time: number): Record<string, unknown> {
  const last = sim.engine.last.get(symbol) ?? 0;
  const cursor = sim.replay.cursorTime;
  return {
    symbol,
    markPrice: last.toFixed(8),
    indexPrice: last.toFixed(8),
    estimatedSettlePrice: last.toFixed(8),
    lastFundingRate: sim.funding.lastRate(symbol, cursor).toFixed(8),
    nextFundingTime: sim.funding.nextTime(symbol, cursor),
    interestRate: '0.00010000',
    time,
  };
}

export function markUpdate(sim: SimContext, symbol: string, time: number): Record<string, unknown> {
  const mp = markPayload(sim, symbol, time);
  return {
    e: 'markPriceUpdate',
    E: time,
    s: symbol,
    p: mp.markPrice,
    i: mp.indexPrice,
    P: mp.estimatedSettlePrice,
    r: mp.lastFundingRate,
    T: mp.nextFundingTime,
  };
}

/** the rolling 24 h ticker over released bars */
export function ticker24(sim: SimContext, symbol: string): Record<string, unknown> {
  const s = sim.replay.bySymbol.get(symbol)!;
  const last = sim.replay.lastIndex(symbol);
  const f = sim.fmtOf(symbol);
  const from = sim.replay.cursorTime - 86_400_000;
  let first = last;
  while (first > 0 && s.openTime[first - 1]! >= from) first--;
  let hi = -Infinity;
  let lo = Infinity;
  let vol = 0;
  let qv = 0;
  for (let i = first; i <= last; i++) {
    hi = Math.max(hi, s.high[i]!);
    lo = Math.min(lo, s.low[i]!);
    vol += s.volume[i]!;
    qv += s.volume[i]! * s.close[i]!;
  }
  const open = s.open[first]!;
  const close = s.close[last]!;
  return {
    symbol,
    priceChange: f.price(close - open),
    priceChangePercent: (((close - open) / open) * 100).toFixed(3),
    weightedAvgPrice: f.price(vol > 0 ? qv / vol : close),
    prevClosePrice: f.price(first > 0 ? s.close[first - 1]! : open),
    lastPrice: f.price(close),
    lastQty: f.qty(s.volume[last]!),
    openPrice: f.price(open),
    highPrice: f.price(hi),
    lowPrice: f.price(lo),
    volume: f.qty(vol),
    quoteVolume: qv.toFixed(2),
    openTime: s.openTime[first]!,
    closeTime: s.openTime[last]! + s.intervalMs - 1,
    firstId: first,
    lastId: last,
    count: last - first + 1,
  };
}
