import { flowAt, sellerAggressor, type BarColumns } from '../pipelines/model/index.ts';
import type { SimContext } from './context.ts';
import { bookLevels, bookView, markUpdate, ticker24 } from './market-views.ts';
import { klineFlow, klineIntervalMs, klines, intervalName } from './replay.ts';

/**
 * The public streams a released bar feeds: klines (the replayed interval and longer buckets built
 * from released bars), mark price, book ticker, partial depth, tickers and one aggTrade print.
 */
export function publishBar(sim: SimContext, s: BarColumns, i: number, now: number): void {
  const sym = s.symbol;
  const lower = sym.toLowerCase();
  publishLongerKlines(sim, s, i, now);
  publishKline(sim, s, i, now);
  const mark = markUpdate(sim, sym, now);
  sim.hub.publish(`${lower}@markPrice`, mark);
  sim.hub.publish(`${lower}@markPrice@1s`, mark);
  publishBookTicker(sim, sym, now);
  publishDepth(sim, sym, now);
  publishTickers(sim, sym, now);
  const f = sim.fmtOf(sym);
  const id = sim.seq.trade++;
  sim.hub.publish(`${lower}@aggTrade`, {
    e: 'aggTrade',
    E: now,
    s: sym,
    a: id,
    p: f.price(s.close[i]!),
    q: f.qty(s.volume[i]!),
    f: id,
    l: id,
    T: s.openTime[i]! + s.intervalMs,
    m: sellerAggressor(s, i),
  });
}

/** `!markPrice@arr[@1s]`: every symbol with a price */
export function publishMarkArray(sim: SimContext, now: number): void {
  const arr = sim.symbols.filter((s) => sim.engine.last.has(s)).map((s) => markUpdate(sim, s, now));
  sim.hub.publish('!markPrice@arr', arr);
  sim.hub.publish('!markPrice@arr@1s', arr);
}

function publishKline(sim: SimContext, s: BarColumns, i: number, now: number): void {
  const f = sim.fmtOf(s.symbol);
  const iv = intervalName(s.intervalMs);
  const flow = klineFlow(flowAt(s.flow, i), f.qty);
  sim.hub.publish(`${s.symbol.toLowerCase()}@kline_${iv}`, {
    e: 'kline',
    E: now,
    s: s.symbol,
    k: {
      t: s.openTime[i]!,
      T: s.openTime[i]! + s.intervalMs - 1,
      s: s.symbol,
      i: iv,
      f: i,
      L: i,
      o: f.price(s.open[i]!),
      c: f.price(s.close[i]!),
      h: f.price(s.high[i]!),
      l: f.price(s.low[i]!),
      v: f.qty(s.volume[i]!),
      n: flow.trades,
      x: true,
      q: flow.quoteVolume,
      V: flow.takerBuyVolume,
      Q: flow.takerBuyQuoteVolume,
      B: '0',
    },
  });
}

/** longer intervals: the bucket holding this bar, built from released bars only, closed with its last bar */
function publishLongerKlines(sim: SimContext, s: BarColumns, i: number, now: number): void {
  const lower = s.symbol.toLowerCase();
  const f = sim.fmtOf(s.symbol);
  for (const st of sim.hub.listened(`${lower}@kline_`)) {
    const name = st.slice(lower.length + 7);
    const ivMs = klineIntervalMs(name);
    if (ivMs === undefined || ivMs === s.intervalMs || ivMs % s.intervalMs !== 0) continue;
    const k = klines(s, i, ivMs, undefined, undefined, 1)[0]!;
    const flow = klineFlow(k.flow, f.qty);
    sim.hub.publish(st, {
      e: 'kline',
      E: now,
      s: s.symbol,
      k: {
        t: k.openTime,
        T: k.closeTime,
        s: s.symbol,
        i: name,
        f: i - k.count + 1,
        L: i,
        o: f.price(k.open),
        c: f.price(k.close),
        h: f.price(k.high),
        l: f.price(k.low),
        v: f.qty(k.volume),
        n: flow.trades,
        x: s.openTime[i]! + s.intervalMs === k.closeTime + 1,
        q: flow.quoteVolume,
        V: flow.takerBuyVolume,
        Q: flow.takerBuyQuoteVolume,
        B: '0',
      },
    });
  }
}

function publishBookTicker(sim: SimContext, sym: string, now: number): void {
  const b = bookView(sim, sym);
  const f = sim.fmtOf(sym);
  const bt = {
    e: 'bookTicker',
    u: sim.seq.book++,
    E: now,
    T: now,
    s: sym,
    b: f.price(b.bid),
    B: f.qty(b.qty),
    a: f.price(b.ask),
    A: f.qty(b.qty),
  };
  sim.hub.publish(`${sym.toLowerCase()}@bookTicker`, bt);
  sim.hub.publish('!bookTicker', bt);
}

function publishDepth(sim: SimContext, sym: string, now: number): void {
  const seq = sim.seq.book;
  for (const st of sim.hub.listened(`${sym.toLowerCase()}@depth`)) {
    const levels = Number(/^[a-z0-9]+@depth(\d+)/.exec(st)?.[1] ?? 0);
    if (!levels) continue;
    const { bids, asks } = bookLevels(sim, sym, levels);
    sim.hub.publish(st, { e: 'depthUpdate', E: now, T: now, s: sym, U: seq, u: seq, pu: seq - 1, b: bids, a: asks });
  }
}

function publishTickers(sim: SimContext, sym: string, now: number): void {
  const lower = sym.toLowerCase();
  const needTicker = sim.hub.listened(`${lower}@ticker`).length > 0 || sim.hub.listened('!ticker@arr').length > 0;
  const needMini = sim.hub.listened(`${lower}@miniTicker`).length > 0 || sim.hub.listened('!miniTicker@arr').length > 0;
  if (!needTicker && !needMini) return;
  const t = ticker24(sim, sym);
  if (needTicker) {
    const full = {
      e: '24hrTicker',
      E: now,
      s: sym,
      p: t.priceChange,
      P: t.priceChangePercent,
      w: t.weightedAvgPrice,
      c: t.lastPrice,
      Q: t.lastQty,
      o: t.openPrice,
      h: t.highPrice,
      l: t.lowPrice,
      v: t.volume,
      q: t.quoteVolume,
      O: t.openTime,
      C: t.closeTime,
      F: t.firstId,
      L: t.lastId,
      n: t.count,
    };
    sim.hub.publish(`${lower}@ticker`, full);
    sim.hub.publish('!ticker@arr', [full]);
  }
  if (needMini) {
    const mini = {
      e: '24hrMiniTicker',
      E: now,
      s: sym,
      c: t.lastPrice,
      o: t.openPrice,
      h: t.highPrice,
      l: t.lowPrice,
      v: t.volume,
      q: t.quoteVolume,
    };
    sim.hub.publish(`${lower}@miniTicker`, mini);
    sim.hub.publish('!miniTicker@arr', [mini]);
  }
}
