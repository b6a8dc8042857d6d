import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SimContext } from '../context.ts';
import { sellerAggressor } from '../../pipelines/model/index.ts';
import { bad, invalid, missing } from '../api-error.ts';
import { bookLevels, bookView, markPayload, ticker24 } from '../market-views.ts';
import { klineFlow, klineIntervalMs, klines } from '../replay.ts';
import { intParam, limitParam, oneOrAll, symbolParam, type Ctx, type RouteTable } from './route.ts';

const EXCHANGE_INFO_FILE = fileURLToPath(
  new URL('../../pipelines/aster-exchange-info-2026-01-12.json', import.meta.url),
);
const DEPTH_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

const klineWeight = (limit: number): number => (limit < 100 ? 1 : limit < 500 ? 2 : limit <= 1000 ? 5 : 10);
const depthWeight = (limit: number): number => (limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20);
const perSymbol =
  (one: number, all: number) =>
  (p: URLSearchParams): number =>
    p.has('symbol') ? one : all;

/** Public market data over the released bars: nothing after the market clock is visible. */
export function marketRoutes(sim: SimContext): RouteTable {
  let info: ({ symbols: { symbol: string }[] } & Record<string, unknown>) | undefined;
  const pub = { security: 'NONE' } as const;
  const klineRoute = {
    ...pub,
    handle: (ctx: Ctx) => ({ body: klineRows(sim, ctx) }),
    weight: (p: URLSearchParams) => klineWeight(Number(p.get('limit') ?? 500)),
  };
  return {
    'GET ping': { ...pub, handle: () => ({ body: {} }) },
    'GET time': { ...pub, handle: (ctx) => ({ body: { serverTime: ctx.now } }) },
    'GET exchangeInfo': {
      ...pub,
      handle: (ctx) => {
        info ??= JSON.parse(readFileSync(EXCHANGE_INFO_FILE, 'utf8')) as NonNullable<typeof info>;
        const symbols = info.symbols.filter((s) => sim.filters.has(s.symbol));
        return { body: { ...info, serverTime: ctx.now, symbols } };
      },
    },
    'GET klines': klineRoute,
    'GET markPriceKlines': klineRoute,
    'GET trades': {
      ...pub,
      handle: (ctx) => ({
        body: barPrints(sim, ctx),
      }),
    },
    'GET aggTrades': {
      ...pub,
      weight: 20,
      handle: (ctx) => ({
        body: barPrints(sim, ctx).map((t) => ({
          a: t.id,
          p: t.price,
          q: t.qty,
          f: t.id,
          l: t.id,
          T: t.time,
          m: t.isBuyerMaker,
        })),
      }),
    },
    'GET premiumIndex': {
      ...pub,
      handle: (ctx) => ({ body: oneOrAll(sim, ctx, (s) => markPayload(sim, s, sim.eventTime())) }),
    },
    'GET fundingRate': { ...pub, handle: (ctx) => ({ body: fundingRows(sim, ctx) }) },
    'GET fundingInfo': {
      ...pub,
      handle: () => ({
        body: sim.symbols.map((symbol) => ({
          symbol,
          interestRate: '0.00010000',
          time: sim.eventTime(),
          fundingIntervalHours: sim.funding.intervalHours(symbol),
          fundingFeeCap: 0.03,
          fundingFeeFloor: -0.03,
        })),
      }),
    },
    'GET ticker/24hr': {
      ...pub,
      weight: perSymbol(1, 40),
      handle: (ctx) => ({ body: oneOrAll(sim, ctx, (s) => ticker24(sim, s)) }),
    },
    'GET ticker/price': {
      ...pub,
      weight: perSymbol(1, 2),
      handle: (ctx) => ({
        body: oneOrAll(sim, ctx, (s) => ({
          symbol: s,
          price: sim.fmtOf(s).price(sim.engine.last.get(s) ?? 0),
          time: sim.eventTime(),
        })),
      }),
    },
    'GET ticker/bookTicker': {
      ...pub,
      weight: perSymbol(1, 2),
      handle: (ctx) => ({ body: oneOrAll(sim, ctx, (s) => bookTicker(sim, s, sim.eventTime())) }),
    },
    'GET depth': {
      ...pub,
      weight: (p) => depthWeight(Number(p.get('limit') ?? 500)),
      handle: (ctx) => {
        const s = symbolParam(sim, ctx);
        const limit = intParam(ctx, 'limit') ?? 500;
        if (!DEPTH_LIMITS.includes(limit)) throw invalid('limit');
        const { bids, asks } = bookLevels(sim, s, limit);
        return { body: { lastUpdateId: sim.seq.book, E: sim.eventTime(), T: sim.eventTime(), bids, asks } };
      },
    },
  };
}

function bookTicker(sim: SimContext, symbol: string, time: number): unknown {
  const b = bookView(sim, symbol);
  const f = sim.fmtOf(symbol);
  return {
    symbol,
    bidPrice: f.price(b.bid),
    bidQty: f.qty(b.qty),
    askPrice: f.price(b.ask),
    askQty: f.qty(b.qty),
    time,
  };
}

/** klines (and mark-price klines: the mark is the last price) from released bars only */
function klineRows(sim: SimContext, ctx: Ctx): unknown[] {
  const s = symbolParam(sim, ctx);
  const iv = ctx.params.get('interval');
  if (!iv) throw missing('interval');
  const ivMs = klineIntervalMs(iv);
  const series = sim.replay.bySymbol.get(s)!;
  if (ivMs === undefined || ivMs % series.intervalMs !== 0) throw bad(-1120, 'Invalid interval.');
  const limit = limitParam(ctx, 500, 1500);
  const f = sim.fmtOf(s);
  const last = sim.replay.lastIndex(s);
  const rows = klines(series, last, ivMs, intParam(ctx, 'startTime'), intParam(ctx, 'endTime'), limit);
  return rows.map((k) => {
    const flow = klineFlow(k.flow, f.qty);
    return [
      k.openTime,
      f.price(k.open),
      f.price(k.high),
      f.price(k.low),
      f.price(k.close),
      f.qty(k.volume),
      k.closeTime,
      flow.quoteVolume,
      flow.trades,
      flow.takerBuyVolume,
      flow.takerBuyQuoteVolume,
      '0',
    ];
  });
}

/**
 * Public trades: one print per released bar at its close with the bar's volume, stamped at the bar's
 * close time; the id is the bar index. Its aggressor is the side that took more of the bar's volume
 * when the data has taker-buy volume (Binance-native files); without it, the buyer (isBuyerMaker
 * false), as the aggTrade stream does.
 */
function barPrints(
  sim: SimContext,
  ctx: Ctx,
): { id: number; price: string; qty: string; quoteQty: string; time: number; isBuyerMaker: boolean }[] {
  const s = symbolParam(sim, ctx);
  const series = sim.replay.bySymbol.get(s)!;
  const limit = limitParam(ctx, 500, 1000);
  const f = sim.fmtOf(s);
  const last = sim.replay.lastIndex(s);
  const fromId = intParam(ctx, 'fromId');
  const start = intParam(ctx, 'startTime');
  const end = intParam(ctx, 'endTime');
  const out = [];
  for (let i = Math.max(0, fromId ?? 0); i <= last; i++) {
    const time = series.openTime[i]! + series.intervalMs - 1;
    if ((start !== undefined && time < start) || (end !== undefined && time > end)) continue;
    out.push({
      id: i,
      price: f.price(series.close[i]!),
      qty: f.qty(series.volume[i]!),
      quoteQty: (series.volume[i]! * series.close[i]!).toFixed(4),
      time,
      isBuyerMaker: sellerAggressor(series, i),
    });
  }
  return fromId !== undefined || start !== undefined ? out.slice(0, limit) : out.slice(-limit);
}

/** every settlement from the first bar of the data up to the market clock */
function fundingRows(sim: SimContext, ctx: Ctx): unknown[] {
  const s = symbolParam(sim, ctx, false);
  const limit = Math.min(intParam(ctx, 'limit') ?? 100, 1000);
  const start = intParam(ctx, 'startTime');
  const end = intParam(ctx, 'endTime');
  const rows = sim.opts.series
    .filter((x) => s === undefined || x.symbol === s)
    .flatMap((x) => sim.funding.due(x.symbol, x.openTime[0]! - 1, sim.replay.cursorTime))
    .filter((r) => (start === undefined || r.fundingTime >= start) && (end === undefined || r.fundingTime <= end))
    .sort((a, b) => a.fundingTime - b.fundingTime);
  const sel = start !== undefined ? rows.slice(0, limit) : rows.slice(Math.max(0, rows.length - limit));
  return sel.map((r) => ({ symbol: r.symbol, fundingRate: r.rate.toFixed(8), fundingTime: r.fundingTime }));
}
