import { afterEach, describe, expect, it } from 'vitest';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, v1 } from './kit.ts';

const BTC = fixtureColumns('BTCUSDT');
const START = 100;
const BAR = 300_000;
type Obj = Record<string, unknown>;

let sim: ExchangeSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
  });
  return sim;
}

async function restingBuy(s: ExchangeSimulator): Promise<number> {
  const price = (Math.floor(BTC.close[START]! * 0.8 * 10) / 10).toFixed(1);
  const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'LIMIT',
    timeInForce: 'GTC',
    quantity: '0.010',
    price,
  });
  expect(r.status).toBe(200);
  return (r.json as Obj).orderId as number;
}

describe('countdownCancelAll (dead-man switch on the market clock)', () => {
  it('cancels the symbol’s open orders once the market clock passes the countdown, stamped at the deadline', async () => {
    const s = await start();
    const id = await restingBuy(s);
    const armed = await v1(s.restUrl, 'POST', '/fapi/v1/countdownCancelAll', {
      symbol: 'BTCUSDT',
      countdownTime: 2 * BAR,
    });
    expect(armed.json).toEqual({ symbol: 'BTCUSDT', countdownTime: String(2 * BAR) });
    s.advance(1);
    expect(s.state().openOrders.map((o) => o.orderId)).toEqual([id]);
    s.advance(1);
    expect(s.state().openOrders).toEqual([]);
    const o = (await v1(s.restUrl, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', orderId: id })).json as Obj;
    expect(o.status).toBe('CANCELED');
    expect(o.updateTime).toBe(BTC.openTime[START]! + BAR + 2 * BAR);
  });

  it('a heartbeat re-arms it and countdownTime 0 switches it off', async () => {
    const s = await start();
    const id = await restingBuy(s);
    const arm = (ms: number): ReturnType<typeof v1> =>
      v1(s.restUrl, 'POST', '/fapi/v1/countdownCancelAll', { symbol: 'BTCUSDT', countdownTime: ms });
    await arm(2 * BAR);
    s.advance(1);
    await arm(2 * BAR); // heartbeat: two more bars from now
    s.advance(1);
    expect(s.state().openOrders.map((o) => o.orderId)).toEqual([id]);
    await arm(0);
    s.advance(5);
    expect(s.state().openOrders.map((o) => o.orderId)).toEqual([id]);
    const missing = await v1(s.restUrl, 'POST', '/fapi/v1/countdownCancelAll', { symbol: 'BTCUSDT' });
    expect((missing.json as Obj).code).toBe(-1102);
  });

  // ISOLATED margin is supported: test/simulator/isolated-margin.test.ts
  it('refuses hedge mode with the simulator’s real reason, not a false exchange one; CROSSED on cross is -4046', async () => {
    const s = await start();
    const cross = await v1(s.restUrl, 'POST', '/fapi/v1/marginType', { symbol: 'BTCUSDT', marginType: 'CROSSED' });
    expect((cross.json as Obj).code).toBe(-4046);
    const hedge = await v1(s.restUrl, 'POST', '/fapi/v1/positionSide/dual', { dualSidePosition: 'true' });
    expect((hedge.json as Obj).msg).toMatch(/Hedge mode is not supported by the Sapphire simulator/);
    const oneWay = await v1(s.restUrl, 'POST', '/fapi/v1/positionSide/dual', { dualSidePosition: 'false' });
    expect((oneWay.json as Obj).code).toBe(-4059);
  });
});
