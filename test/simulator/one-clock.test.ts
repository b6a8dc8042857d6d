import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, connect, raw, v1, type Recorder } from './kit.ts';

/**
 * One clock for the data: orders, fills, user-data events and market payloads are stamped with the
 * market (replay) clock, as klines and funding are; serverTime and the request-timestamp check
 * stay on the wall clock, so a client signs with its own clock.
 */
const BAR = 300_000;
const START = 400;
type Obj = Record<string, unknown>;

let BTC: BarColumns;
beforeAll(async () => {
  BTC = (await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT'] }))[0]!;
});

let sim: ExchangeSimulator | undefined;
let user: Recorder | undefined;
afterEach(async () => {
  user?.close();
  user = undefined;
  await sim?.close();
  sim = undefined;
});

async function start(): Promise<{ s: ExchangeSimulator; u: Recorder }> {
  sim = await startExchangeSimulator({
    series: [BTC],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    fundingIntervalMs: 600_000,
  });
  const lk = await raw(`${sim.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
  user = await connect(`${sim.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
  return { s: sim, u: user };
}

const isOrderUpdate = (id: string, x: string) => (f: Obj) =>
  f.e === 'ORDER_TRADE_UPDATE' && (f.o as Obj).c === id && (f.o as Obj).x === x;

describe('one clock: the market clock on everything the simulator emits', () => {
  it('order responses, order queries, fills, positions and user-data events carry the market time', async () => {
    const { s, u } = await start();
    const market = BTC.openTime[START]! + BAR;
    expect(s.state().cursorTime).toBe(market);
    const placed = (
      await v1(s.restUrl, 'POST', '/fapi/v1/order', {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: 0.01,
        newClientOrderId: 'clock-1',
        newOrderRespType: 'RESULT',
      })
    ).json as Obj;
    expect(placed.updateTime).toBe(market);
    const trade = await u.next<Obj>(isOrderUpdate('clock-1', 'TRADE'));
    expect([trade.E, trade.T, (trade.o as Obj).T]).toEqual([market, market, market]);
    const acct = await u.next<Obj>((f) => f.e === 'ACCOUNT_UPDATE');
    expect([acct.E, acct.T]).toEqual([market, market]);
    const order = (await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'clock-1' }))
      .json as Obj;
    expect([order.time, order.updateTime]).toEqual([market, market]);
    const fills = (await v1(s.restUrl, 'GET', '/fapi/v1/userTrades', { symbol: 'BTCUSDT' })).json as Obj[];
    expect(fills.map((f) => f.time)).toEqual([market]);
    const pos = ((await v1(s.restUrl, 'GET', '/fapi/v2/positionRisk', { symbol: 'BTCUSDT' })).json as Obj[])[0]!;
    expect(pos.updateTime).toBe(market);

    // a resting limit filled by the next bar: stamped with that bar's close, the new market time
    // the next bar trades up through this price (2025-10-23 09:25, high 109,377.3)
    const price = Math.floor(BTC.close[START]!) + 10;
    expect(BTC.high[START + 1]!).toBeGreaterThan(price);
    await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: 0.001,
      price,
      newClientOrderId: 'clock-2',
    });
    s.advance(1);
    const next = market + BAR;
    const filled = await u.next<Obj>((f) => isOrderUpdate('clock-2', 'TRADE')(f));
    expect([filled.E, filled.T]).toEqual([next, next]);
    // funding every 10 min: the settlement that step crossed (at `next`) is on the market clock too
    expect(next % 600_000).toBe(0);
    const funding = await u.next<Obj>((f) => f.e === 'ACCOUNT_UPDATE' && (f.a as Obj).m === 'FUNDING_FEE');
    expect([funding.E, funding.T]).toEqual([next, next]);
    const income = (await v1(s.restUrl, 'GET', '/fapi/v1/income', { incomeType: 'FUNDING_FEE' })).json as Obj[];
    expect(income.map((r) => r.time)).toEqual([next]);
  });

  it('market payloads (premiumIndex, depth, bookTicker, price) use the market clock; serverTime and auth the wall clock', async () => {
    const { s } = await start();
    const market = BTC.openTime[START]! + BAR;
    const premium = (await raw(`${s.restUrl}/fapi/v1/premiumIndex?symbol=BTCUSDT`)).json as Obj;
    const depth = (await raw(`${s.restUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=5`)).json as Obj;
    const book = (await raw(`${s.restUrl}/fapi/v1/ticker/bookTicker?symbol=BTCUSDT`)).json as Obj;
    const price = (await raw(`${s.restUrl}/fapi/v1/ticker/price?symbol=BTCUSDT`)).json as Obj;
    expect([premium.time, depth.E, depth.T, book.time, price.time]).toEqual([market, market, market, market, market]);
    const wall = Date.now();
    const server = ((await raw(`${s.restUrl}/fapi/v1/time`)).json as Obj).serverTime as number;
    expect(Math.abs(server - wall)).toBeLessThan(5_000);
    // a request signed at market time is outside recvWindow of the wall clock
    const stale = await v1(s.restUrl, 'GET', '/fapi/v2/balance', {}, { timestamp: market });
    expect((stale.json as Obj).code).toBe(-1021);
  });
});
