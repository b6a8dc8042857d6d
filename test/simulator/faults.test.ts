import { afterEach, describe, expect, it } from 'vitest';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import {
  startExchangeSimulator,
  type ExchangeSimulator,
  type SimulatorOptions,
} from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, connect, eventually, raw, v1, type Recorder } from './kit.ts';

const BTC = fixtureColumns('BTCUSDT');
const START = 30;
type Obj = Record<string, unknown>;

let sim: ExchangeSimulator | undefined;
const sockets: Recorder[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await sim?.close();
  sim = undefined;
});

async function start(extra: Partial<SimulatorOptions> = {}): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    ...extra,
  });
  return sim;
}

const market = (id: string) => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: '0.002',
  newClientOrderId: id,
});

describe('simulator fault injection (observed by a raw client)', () => {
  it('429 with Retry-After and the weight header, then normal service', async () => {
    const s = await start();
    s.injectFault('rate-limit-429', { retryAfterS: 3 });
    const r = await raw(`${s.restUrl}/fapi/v1/time`);
    expect(r.status).toBe(429);
    expect((r.json as Obj).code).toBe(-1003);
    expect(r.headers.get('retry-after')).toBe('3');
    expect(r.headers.get('x-mbx-used-weight-1m')).not.toBeNull();
    expect((await raw(`${s.restUrl}/fapi/v1/time`)).status).toBe(200);
    expect(s.state().faults['rate-limit-429']).toBe(1);
  });

  it('418 ban response', async () => {
    const s = await start();
    s.injectFault('ban-418');
    const r = await raw(`${s.restUrl}/fapi/v1/ping`);
    expect(r.status).toBe(418);
    expect((r.json as Obj).code).toBe(-1003);
    expect(r.headers.get('retry-after')).not.toBeNull();
    expect(s.state().faults['ban-418']).toBe(1);
  });

  it('real weight limit: 429 past the limit, 418 after repeated 429s', async () => {
    const s = await start({ weightLimit: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await raw(`${s.restUrl}/fapi/v1/ping`)).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]).toBe(429);
    expect(statuses).toContain(418);
    expect(statuses.at(-1)).toBe(418);
  });

  it('503 "unknown" on an order: placed when the coin says so, not placed otherwise', async () => {
    const s = await start();
    s.injectFault('unknown-503', { place: true });
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', market('u-placed'));
    expect(r.status).toBe(503);
    expect((r.json as Obj).code).toBe(-1007);
    const q = await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'u-placed' });
    expect((q.json as Obj).status).toBe('FILLED');
    s.injectFault('unknown-503', { place: false });
    const r2 = await v1(s.restUrl, 'POST', '/fapi/v1/order', market('u-lost'));
    expect(r2.status).toBe(503);
    const q2 = await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'u-lost' });
    expect((q2.json as Obj).code).toBe(-2013);
    expect(s.state().faults['unknown-503']).toBe(2);
  });

  it('503 with the seeded coin places about half of the orders', async () => {
    const s = await start({ initialBalance: 1_000_000 });
    let placed = 0;
    const n = 40;
    for (let i = 0; i < n; i++) {
      s.injectFault('unknown-503');
      const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', market(`coin-${i}`));
      expect(r.status).toBe(503);
      const q = await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: `coin-${i}` });
      if ((q.json as Obj).status === 'FILLED') placed++;
    }
    expect(placed).toBeGreaterThan(n * 0.2);
    expect(placed).toBeLessThan(n * 0.8);
  });

  it('-1021 on a correctly signed request', async () => {
    const s = await start();
    s.injectFault('timestamp-1021');
    const r = await v1(s.restUrl, 'GET', '/fapi/v2/balance', {});
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' });
    expect((await v1(s.restUrl, 'GET', '/fapi/v2/balance', {})).status).toBe(200);
  });

  it('drops market and user sockets', async () => {
    const s = await start();
    const m = await connect(`${s.wsUrl}/stream?streams=btcusdt@kline_5m`);
    sockets.push(m);
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const u = await connect(`${s.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
    sockets.push(u);
    s.injectFault('drop-market-ws');
    await m.until(() => m.closed);
    expect(u.closed).toBe(false);
    s.injectFault('drop-user-ws');
    await u.until(() => u.closed);
    expect(s.state().faults['drop-market-ws']).toBe(1);
    expect(s.state().faults['drop-user-ws']).toBe(1);
    // a reconnect works
    const again = await connect(`${s.wsUrl}/stream?streams=btcusdt@kline_5m`);
    sockets.push(again);
    s.advance(1);
    await again.next((f) => f.stream === 'btcusdt@kline_5m');
  });

  it('delayed fill: the order is acknowledged NEW and fills later', async () => {
    const s = await start();
    s.injectFault('delayed-fill', { delayMs: 150 });
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', { ...market('late-1'), newOrderRespType: 'RESULT' });
    expect(r.status).toBe(200);
    expect((r.json as Obj).status).toBe('NEW');
    await eventually(async () => {
      const q = await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'late-1' });
      return (q.json as Obj).status === 'FILLED';
    });
    expect(s.state().faults['delayed-fill']).toBe(1);
  });

  it('partial fill: PARTIALLY_FILLED on the user stream, then FILLED', async () => {
    const s = await start();
    const lk = await raw(`${s.restUrl}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const u = await connect(`${s.wsUrl}/ws/${(lk.json as Obj).listenKey as string}`);
    sockets.push(u);
    s.injectFault('partial-fill', { delayMs: 100, fraction: 0.5 });
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      ...market('part-1'),
      quantity: '0.004',
      newOrderRespType: 'RESULT',
    });
    expect((r.json as Obj).status).toBe('PARTIALLY_FILLED');
    expect((r.json as Obj).executedQty).toBe('0.002');
    const done = await u.next((f) => f.e === 'ORDER_TRADE_UPDATE' && (f.o as Obj).X === 'FILLED');
    expect((done.o as Obj).z).toBe('0.004');
    const trades = u.frames.filter((f) => (f as Obj).e === 'ORDER_TRADE_UPDATE' && ((f as Obj).o as Obj).x === 'TRADE');
    expect(trades).toHaveLength(2);
  });

  it('latency spike: the answer still comes, counted', async () => {
    const s = await start();
    s.injectFault('latency-spike', { delayMs: 200 });
    const r = await raw(`${s.restUrl}/fapi/v1/time`);
    expect(r.status).toBe(200);
    expect(s.state().faults['latency-spike']).toBe(1);
  });

  it('a seeded random plan injects faults at its rate, only of its kinds and on its routes', async () => {
    const s = await start({ faults: { seed: 7, ratePerSecond: 200, kinds: ['rate-limit-429'], routes: ['/time'] } });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push((await raw(`${s.restUrl}/fapi/v1/time`)).status);
      expect((await raw(`${s.restUrl}/fapi/v1/ping`)).status).toBe(200);
      // the plan's rate is per second, so requests are spread over time on purpose
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(statuses).toContain(429);
    expect(s.state().faults['rate-limit-429']).toBe(statuses.filter((x) => x === 429).length);
    s.setFaults(undefined);
  });
});
