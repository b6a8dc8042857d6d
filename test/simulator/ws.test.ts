import { afterEach, describe, expect, it } from 'vitest';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import {
  startExchangeSimulator,
  type ExchangeSimulator,
  type SimulatorOptions,
} from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, connect, eventually, raw, v1, type Recorder } from './kit.ts';
import type { Timers } from '../../pipelines/ports.ts';

const BTC = fixtureColumns('BTCUSDT');
const ETH = fixtureColumns('ETHUSDT');
const START = 50;

type Obj = Record<string, unknown>;
type Frame = { stream?: string; data?: Obj } & Obj;

let sim: ExchangeSimulator | undefined;
const sockets: Recorder[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await sim?.close();
  sim = undefined;
});

async function start(extra: Partial<SimulatorOptions> = {}): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC, ETH],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    ...extra,
  });
  return sim;
}

async function open(url: string): Promise<Recorder> {
  const r = await connect(url);
  sockets.push(r);
  return r;
}

describe('simulator WebSocket streams', () => {
  it('combined streams carry Aster kline, markPrice, bookTicker and aggTrade payloads as the replay advances', async () => {
    const s = await start();
    const ws = await open(
      `${s.wsUrl}/stream?streams=btcusdt@kline_5m/btcusdt@markPrice/btcusdt@bookTicker/btcusdt@aggTrade/!markPrice@arr`,
    );
    s.advance(1);
    const i = START + 1;
    const k = await ws.next<Frame>((f) => f.stream === 'btcusdt@kline_5m');
    expect(k.data).toMatchObject({ e: 'kline', s: 'BTCUSDT' });
    const kk = k.data!.k as Obj;
    expect(kk).toMatchObject({
      t: BTC.openTime[i],
      T: BTC.openTime[i]! + 299_999,
      s: 'BTCUSDT',
      i: '5m',
      o: BTC.open[i]!.toFixed(1),
      h: BTC.high[i]!.toFixed(1),
      l: BTC.low[i]!.toFixed(1),
      c: BTC.close[i]!.toFixed(1),
      v: BTC.volume[i]!.toFixed(3),
      x: true,
    });
    for (const key of ['f', 'L']) expect(typeof kk[key]).toBe('number');
    expect(typeof kk.B).toBe('string');
    // the replayed file has no order flow: null, never an invented value (test/simulator/order-flow)
    expect([kk.n, kk.q, kk.V, kk.Q]).toEqual([null, null, null, null]);
    const m = await ws.next<Frame>((f) => f.stream === 'btcusdt@markPrice');
    expect(Object.keys(m.data!).sort()).toEqual(['E', 'P', 'T', 'e', 'i', 'p', 'r', 's'].sort());
    expect(m.data!.e).toBe('markPriceUpdate');
    expect(Number(m.data!.p)).toBe(BTC.close[i]);
    expect(typeof m.data!.T).toBe('number');
    const b = await ws.next<Frame>((f) => f.stream === 'btcusdt@bookTicker');
    expect(b.data).toMatchObject({ e: 'bookTicker', s: 'BTCUSDT' });
    for (const key of ['b', 'B', 'a', 'A']) expect(typeof b.data![key]).toBe('string');
    expect(Number(b.data!.a)).toBeGreaterThan(Number(b.data!.b));
    expect(Number(b.data!.b)).toBeLessThanOrEqual(BTC.close[i]!);
    const a = await ws.next<Frame>((f) => f.stream === 'btcusdt@aggTrade');
    expect(a.data).toMatchObject({ e: 'aggTrade', s: 'BTCUSDT', p: BTC.close[i]!.toFixed(1), m: false });
    for (const key of ['a', 'f', 'l', 'T', 'E']) expect(typeof a.data![key]).toBe('number');
    const arr = await ws.next<Frame>((f) => f.stream === '!markPrice@arr');
    expect((arr.data as unknown as Obj[]).map((x) => x.s)).toEqual(['BTCUSDT', 'ETHUSDT']);
    // not subscribed: no ETH kline on this socket
    expect(ws.frames.some((f) => (f as Frame).stream === 'ethusdt@kline_5m')).toBe(false);
  });

  it('longer kline intervals, partial depth and tickers are built from released bars only', async () => {
    // start on the bar before a 15-minute bucket begins
    const b0 = BTC.openTime.findIndex((t, j) => j > START && t % 900_000 === 0);
    const s = await start({ startIndex: b0 - 1 });
    const ws = await open(`${s.wsUrl}/ws`);
    ws.ws.send(
      JSON.stringify({
        method: 'SUBSCRIBE',
        params: ['btcusdt@kline_15m', 'btcusdt@depth5@100ms', 'btcusdt@ticker', 'btcusdt@miniTicker'],
        id: 1,
      }),
    );
    await ws.next((f) => f.id === 1);
    ws.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@kline_7m'], id: 2 }));
    expect((await ws.next((f) => f.id === 2)).code).toBe(2);
    ws.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@depth'], id: 3 }));
    expect((await ws.next((f) => f.id === 3)).code).toBe(2);
    s.advance(3);
    await ws.until(() => ws.frames.filter((f) => (f as Obj).e === 'kline').length >= 3);
    const ks = ws.frames.filter((f) => (f as Obj).e === 'kline').map((f) => (f as Obj).k as Obj);
    expect(ks.map((k) => k.x)).toEqual([false, false, true]);
    expect(ks.every((k) => k.t === BTC.openTime[b0] && k.i === '15m')).toBe(true);
    const last = ks[2]!;
    expect(last.o).toBe(BTC.open[b0]!.toFixed(1));
    expect(last.c).toBe(BTC.close[b0 + 2]!.toFixed(1));
    expect(last.h).toBe(Math.max(BTC.high[b0]!, BTC.high[b0 + 1]!, BTC.high[b0 + 2]!).toFixed(1));
    const d = await ws.next((f) => f.e === 'depthUpdate');
    expect((d.b as unknown[]).length).toBe(5);
    expect((d.a as unknown[]).length).toBe(5);
    const t = ws.frames.filter((f) => (f as Obj).e === '24hrTicker').at(-1) as Obj;
    expect(t.c).toBe(BTC.close[b0 + 2]!.toFixed(1));
    const m = ws.frames.filter((f) => (f as Obj).e === '24hrMiniTicker').at(-1) as Obj;
    expect(m.c).toBe(BTC.close[b0 + 2]!.toFixed(1));
  });

  it('raw /ws sockets accept SUBSCRIBE / LIST_SUBSCRIPTIONS / UNSUBSCRIBE and send unwrapped payloads', async () => {
    const s = await start();
    const ws = await open(`${s.wsUrl}/ws`);
    ws.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['ethusdt@kline_5m'], id: 1 }));
    expect(await ws.next((f) => f.id === 1)).toEqual({ result: null, id: 1 });
    ws.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 3 }));
    expect(await ws.next((f) => f.id === 3)).toEqual({ result: ['ethusdt@kline_5m'], id: 3 });
    s.advance(1);
    const k = await ws.next((f) => f.e === 'kline');
    expect((k.k as Obj).c).toBe(ETH.close[START + 1]!.toFixed(2));
    ws.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['nonsense'], id: 4 }));
    expect((await ws.next((f) => f.id === 4)).code).toBe(2);
    ws.ws.send('not json');
    expect((await ws.next((f) => f.code === 3)).code).toBe(3);
    // raw single stream by path
    const direct = await open(`${s.wsUrl}/ws/btcusdt@aggTrade`);
    s.advance(1);
    const t = await direct.next((f) => f.e === 'aggTrade');
    expect(t.p).toBe(BTC.close[START + 2]!.toFixed(1));
  });

  it('user-data stream: ORDER_TRADE_UPDATE (NEW, TRADE) and ACCOUNT_UPDATE for a filled order', async () => {
    const s = await start();
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const key = (lk.json as Obj).listenKey as string;
    const ws = await open(`${s.wsUrl}/ws/${key}`);
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.002',
      newClientOrderId: 'ws-1',
    });
    expect(r.status).toBe(200);
    const trade = await ws.next((f) => f.e === 'ORDER_TRADE_UPDATE' && (f.o as Obj).x === 'TRADE');
    const o = trade.o as Obj;
    expect(o).toMatchObject({
      s: 'BTCUSDT',
      c: 'ws-1',
      S: 'BUY',
      o: 'MARKET',
      X: 'FILLED',
      l: '0.002',
      z: '0.002',
      N: 'USDT',
      ps: 'BOTH',
    });
    expect(o.L).toBe(BTC.close[START]!.toFixed(1));
    expect(Number(o.n)).toBeCloseTo(0.002 * BTC.close[START]! * 0.00035, 8);
    for (const key of ['i', 'T', 't']) expect(typeof o[key]).toBe('number');
    const first = ws.frames.find((f) => (f as Obj).e === 'ORDER_TRADE_UPDATE') as Obj;
    expect((first.o as Obj).x).toBe('NEW');
    const acc = await ws.next((f) => f.e === 'ACCOUNT_UPDATE');
    const a = acc.a as { m: string; B: Obj[]; P: Obj[] };
    expect(a.m).toBe('ORDER');
    expect(a.B[0]!.a).toBe('USDT');
    expect(a.P[0]).toMatchObject({ s: 'BTCUSDT', pa: '0.002', ps: 'BOTH', mt: 'cross' });
    expect(Number(a.B[0]!.wb)).toBeCloseTo(s.state().balance, 6);
  });

  it('a resting LIMIT order fills when the replay reaches its price, reported on the user stream', async () => {
    const s = await start();
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const ws = await open(`${s.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
    // the first later real bar that trades 0.1 % under the current close
    const last = BTC.close[START]!;
    let j = START + 1;
    while (j < BTC.length - 1 && BTC.low[j]! > last * 0.999) j++;
    let minLow = Infinity;
    for (let k = START + 1; k < j; k++) minLow = Math.min(minLow, BTC.low[k]!);
    const limit = Math.ceil(Math.max(BTC.low[j]!, last * 0.999) * 10) / 10;
    expect(limit).toBeLessThan(minLow);
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.001',
      price: limit.toFixed(1),
    });
    expect((r.json as Obj).status).toBe('NEW');
    s.advance(j - START - 1);
    expect(s.state().openOrders).toHaveLength(1);
    s.advance(1);
    const fill = await ws.next((f) => f.e === 'ORDER_TRADE_UPDATE' && (f.o as Obj).X === 'FILLED');
    expect((fill.o as Obj).m).toBe(true);
    expect(Number((fill.o as Obj).L)).toBeCloseTo(Math.min(limit, BTC.open[j]!), 6);
    const q = await v1(s.restUrl, 'GET', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      orderId: (r.json as Obj).orderId as number,
    });
    expect((q.json as Obj).status).toBe('FILLED');
  });

  it('closes a market connection at the end of its lifetime (24 h on Aster, shortened here)', async () => {
    const s = await start({ maxConnectionMs: 100 });
    const ws = await open(`${s.wsUrl}/stream?streams=btcusdt@kline_5m`);
    await ws.until(() => ws.closed);
    await eventually(() => s.state().marketSockets === 0);
  });

  it('sends listenKeyExpired when a key is not kept alive, and ping frames on schedule', async () => {
    const s = await start({ listenKeyTtlMs: 300, pingIntervalMs: 50 });
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const ws = await open(`${s.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
    await ws.until(() => ws.pings.length > 0);
    const exp = await ws.next((f) => f.e === 'listenKeyExpired');
    expect(typeof exp.E).toBe('number');
    await ws.until(() => ws.closed);
    // the expired key cannot be kept alive any more
    const put = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'PUT', headers: { 'X-MBX-APIKEY': V1_KEY } });
    expect((put.json as Obj).code).toBe(-1125);
  });

  it('replays on its own at replayMs per bar, one kline per bar in market order', async () => {
    const s = await start({ replayMs: 20 });
    const ws = await open(`${s.wsUrl}/stream?streams=btcusdt@kline_5m`);
    await ws.until(() => ws.frames.length >= 3);
    const ts = ws.frames.slice(0, 3).map((f) => ((f as Frame).data!.k as Obj).t as number);
    expect(ts[1]! - ts[0]!).toBe(300_000);
    expect(ts[2]! - ts[1]!).toBe(300_000);
    expect(ts[0]!).toBeGreaterThan(BTC.openTime[START]!);
  });

  it('runs its replay and housekeeping on the timers it is given, and clears every pending one at close', async () => {
    // controlled timers: nothing fires until the test says so (the one Timers abstraction)
    const pending = new Map<number, { fn: () => void; ms: number }>();
    let next = 0;
    const timers: Timers = {
      setTimeout: (fn, ms) => (pending.set(++next, { fn, ms }), next),
      clearTimeout: (h) => void pending.delete(h as number),
    };
    const fire = (ms: number): void => {
      const [h, t] = [...pending].find(([, x]) => x.ms === ms)!;
      pending.delete(h);
      t.fn();
    };
    const s = await start({ replayMs: 60_000, pingIntervalMs: 100, timers });
    const t0 = s.state().cursorTime;
    expect([...pending.values()].map((t) => t.ms).sort((a, b) => a - b)).toEqual([100, 60_000]);
    fire(60_000);
    expect(s.state().cursorTime).toBe(t0 + 300_000);
    fire(60_000);
    fire(100);
    expect(s.state().cursorTime).toBe(t0 + 600_000);
    expect(pending.size).toBe(2);
    await s.close();
    sim = undefined;
    expect(pending.size).toBe(0);
  });

  it('pays funding at the 8 h boundary: the long pays rate × mark × qty, ACCOUNT_UPDATE FUNDING_FEE', async () => {
    // two bars before the 08:00 UTC boundary of the fixture day
    const idx = BTC.openTime.findIndex((t) => t === Date.parse('2025-01-28T07:50:00Z'));
    const s = await start({ startIndex: idx, fundingRate: 0.0001 });
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const ws = await open(`${s.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.010',
    });
    expect(r.status).toBe(200);
    const before = s.state().balance;
    s.advance(1); // bar 07:55 closes at 08:00
    const mark = BTC.close[idx + 1]!;
    expect(s.state().balance).toBeCloseTo(before - 0.01 * mark * 0.0001, 8);
    expect(s.state().fundingPaid).toBeCloseTo(0.01 * mark * 0.0001, 8);
    const fu = await ws.next((f) => f.e === 'ACCOUNT_UPDATE' && (f.a as Obj).m === 'FUNDING_FEE');
    expect(((fu.a as Obj).B as Obj[])[0]!.a).toBe('USDT');
    const fr = (await raw(`${s.restUrl}/fapi/v1/fundingRate?symbol=BTCUSDT`)).json as Obj[];
    // the history covers every settlement since the data began (00:00, at the first bar), not only those charged
    expect(fr).toEqual([
      { symbol: 'BTCUSDT', fundingRate: '0.00010000', fundingTime: Date.parse('2025-01-28T00:00:00Z') },
      { symbol: 'BTCUSDT', fundingRate: '0.00010000', fundingTime: Date.parse('2025-01-28T08:00:00Z') },
    ]);
    s.advance(1);
    expect(s.state().fundingPaid).toBeCloseTo(0.01 * mark * 0.0001, 8);
  });
});
