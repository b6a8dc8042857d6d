import type { SymbolFilters } from '../../pipelines/model/index.ts';
import { restingFillQuantity } from '../../pipelines/liquidity/liquidity.kernel.ts';
import { qtyClean } from '../order-rules.kernel.ts';
import type { AccountState, Engine, EngineEvent, SimOrder } from './engine.kernel.ts';
import { accountOf } from './account.kernel.ts';
import { fillOrder, remainingFor, takerPrice } from './fills.kernel.ts';
import { firstLiquidation, liquidateCrossed } from './liquidation.kernel.ts';

/**
 * Replaying a bar: its path (see simulator/matching.kernel.ts), resting limits by their queue share,
 * stops and take-profits triggered, trailing stops tracked, liquidations where the path reaches them.
 */

export interface BarPrices {
  open: number;
  high: number;
  low: number;
  close: number;
  /** traded volume (base asset): the queue a resting limit fills from and the next bar's book depth */
  volume?: number;
}

/** the bar being walked, and the resting orders that already took their queue share of it */
export interface BarWalk {
  bar: BarPrices;
  queued: Set<number>;
}

/** The order in which a bar's prices are visited (see the module comment). */
export function barPath(bar: BarPrices): number[] {
  return bar.close >= bar.open ? [bar.open, bar.low, bar.high, bar.close] : [bar.open, bar.high, bar.low, bar.close];
}

/**
 * Replays one bar of `symbol`: walks its path, triggers and fills resting orders, then sets the
 * latest price to the close. The first bar of a symbol only sets the price.
 */
export function onBar(engine: Engine, symbol: string, bar: BarPrices, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  const prev = engine.last.get(symbol);
  const path = barPath(bar);
  const walk: BarWalk = { bar, queued: new Set() };
  if (prev !== undefined) {
    let a = prev;
    for (let i = 0; i < path.length; i++) {
      const b = path[i]!;
      const gap = i === 0;
      if (gap) {
        // orders gapped through fill at the open first; a position still beyond its liquidation
        // price at the open is liquidated there
        walkSegment(engine, symbol, a, b, true, time, events, walk);
        engine.last.set(symbol, b);
        liquidateCrossed(engine, symbol, b, time, events);
      } else {
        // the segment is walked up to each liquidation price it reaches, which fills there
        let from = a;
        for (let guard = 0; guard < 8; guard++) {
          const at = firstLiquidation(engine, symbol, from, b);
          if (at === undefined) break;
          walkSegment(engine, symbol, from, at, false, time, events, walk);
          engine.last.set(symbol, at);
          liquidateCrossed(engine, symbol, at, time, events);
          from = at;
        }
        walkSegment(engine, symbol, from, b, false, time, events, walk);
      }
      engine.last.set(symbol, b);
      a = b;
    }
  }
  engine.last.set(symbol, bar.close);
  if (bar.volume !== undefined) engine.volume.set(symbol, bar.volume);
  return events;
}

export function walkSegment(
  engine: Engine,
  symbol: string,
  a: number,
  b: number,
  gap: boolean,
  time: number,
  events: EngineEvent[],
  walk: BarWalk,
): void {
  const book = engine.open.get(symbol);
  if (!book || book.size === 0) return;
  const f = engine.cfg.filters.get(symbol)!;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  for (const o of [...book.values()]) {
    if (o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED') continue;
    if (o.pending) continue;
    const account = accountOf(engine, o.account);
    const buy = o.side === 'BUY';
    const isLimitNow = o.type === 'LIMIT' || ((o.type === 'STOP' || o.type === 'TAKE_PROFIT') && o.triggered);
    if (isLimitNow) {
      if ((buy ? lo <= o.price : hi >= o.price) && !walk.queued.has(o.orderId)) {
        const px = gap ? b : buy ? Math.min(o.price, a) : Math.max(o.price, a);
        const qty = queuedQuantity(engine, f, o, account, walk.bar);
        walk.queued.add(o.orderId);
        // nothing left to reduce expires it (fillOrder); a zero queue share just waits for the next bar
        if (qty > 0 || remainingFor(o, account) <= 0) fillOrder(engine, o, qty, px, true, time, events);
      }
      continue;
    }
    if (o.type === 'TRAILING_STOP_MARKET') {
      trailing(engine, f, o, account, a, b, gap, time, events);
      continue;
    }
    const isStop = o.type === 'STOP' || o.type === 'STOP_MARKET';
    const fires = buy
      ? isStop
        ? hi >= o.stopPrice
        : lo <= o.stopPrice
      : isStop
        ? lo <= o.stopPrice
        : hi >= o.stopPrice;
    if (!fires) continue;
    // the price at which the trigger is crossed: the stop itself, or the open on a gap / a start beyond it
    const crossed = buy === isStop ? a >= o.stopPrice : a <= o.stopPrice;
    const trigPx = gap || crossed ? (gap ? b : a) : o.stopPrice;
    if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
      fillOrder(
        engine,
        o,
        remainingFor(o, account),
        takerPrice(engine, f, o, trigPx, remainingFor(o, account)),
        false,
        time,
        events,
      );
    } else {
      o.triggered = true;
      o.updateTime = time;
      // a triggered stop-limit that is marketable at the trigger price takes at once
      if (buy ? o.price >= trigPx : o.price <= trigPx) {
        const px = buy
          ? Math.min(o.price, takerPrice(engine, f, o, trigPx, remainingFor(o, account)))
          : Math.max(o.price, takerPrice(engine, f, o, trigPx, remainingFor(o, account)));
        fillOrder(engine, o, remainingFor(o, account), px, false, time, events);
      } else if (buy ? Math.min(trigPx, b) <= o.price : Math.max(trigPx, b) >= o.price) {
        fillOrder(engine, o, remainingFor(o, account), o.price, true, time, events);
      }
    }
  }
}

/** what a resting limit reached in this bar fills: its queue share (liquidity kernel), on the step grid */
export function queuedQuantity(
  engine: Engine,
  f: SymbolFilters,
  o: SimOrder,
  account: AccountState,
  bar: BarPrices,
): number {
  const rest = remainingFor(o, account);
  const model = engine.cfg.liquidity;
  if (model === undefined || bar.volume === undefined || rest <= 0) return rest;
  const tick = f.tickSize > 0 ? f.tickSize : 1e-8;
  const share = restingFillQuantity(model, o.side, o.price, { ...bar, volume: bar.volume }, tick);
  if (share >= rest) return rest;
  const step = f.stepSize > 0 ? f.stepSize : 1e-8;
  return qtyClean(Math.floor(share / step + 1e-9) * step);
}

export function trailing(
  engine: Engine,
  f: SymbolFilters,
  o: SimOrder,
  account: AccountState,
  a: number,
  b: number,
  gap: boolean,
  time: number,
  events: EngineEvent[],
): void {
  const rate = (o.priceRate ?? 1) / 100;
  const act = o.activatePrice ?? a;
  if (o.side === 'SELL') {
    // falling part first (a → b when b < a): may fire against the highest seen so far
    if (b < a && o.activated) {
      const stop = o.extreme * (1 - rate);
      if (b <= stop) {
        const trig = gap || a <= stop ? (gap ? b : a) : stop;
        fillOrder(
          engine,
          o,
          remainingFor(o, account),
          takerPrice(engine, f, o, trig, remainingFor(o, account)),
          false,
          time,
          events,
        );
        return;
      }
    }
    if (b > o.extreme) o.extreme = b;
    if (!o.activated && o.extreme >= act) o.activated = true;
  } else {
    if (b > a && o.activated) {
      const stop = o.extreme * (1 + rate);
      if (b >= stop) {
        const trig = gap || a >= stop ? (gap ? b : a) : stop;
        fillOrder(
          engine,
          o,
          remainingFor(o, account),
          takerPrice(engine, f, o, trig, remainingFor(o, account)),
          false,
          time,
          events,
        );
        return;
      }
    }
    if (b < o.extreme) o.extreme = b;
    if (!o.activated && o.extreme <= act) o.activated = true;
  }
}
