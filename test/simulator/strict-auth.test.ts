import { afterEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import {
  startExchangeSimulator,
  type ExchangeSimulator,
  type SimulatorOptions,
} from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, V3_SIGNER, V3_USER, encode, nextNonce, raw, v1, v3, v3Sign } from './kit.ts';

/** Authentication and limits exactly as documented (reference/aster-api.md §1, §2, §4): nothing laxer. */
const BTC = fixtureColumns('BTCUSDT');
type Obj = Record<string, unknown>;

let sim: ExchangeSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(extra: Partial<SimulatorOptions> = {}): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC],
    replayMs: 0,
    startIndex: 100,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    v3Credentials: [{ user: V3_USER, signer: V3_SIGNER }],
    ...extra,
  });
  return sim;
}

const BUY = { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.010' };

describe('strict auth', () => {
  it('V3: unsigned query parameters never override the signed body', async () => {
    const s = await start();
    const msg = encode({ ...BUY, nonce: nextNonce(), user: V3_USER, signer: V3_SIGNER });
    const body = `${msg}&signature=${await v3Sign(msg)}`;
    const r = await raw(`${s.restUrl}/fapi/v3/order?side=SELL&quantity=0.5`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(r.status).toBe(200);
    expect((r.json as Obj).side).toBe('BUY');
    expect(s.state(V3_USER.toLowerCase()).positions.find((p) => p.symbol === 'BTCUSDT')?.amount).toBe(0.01);
  });

  it("'signature' must be the last parameter (V1 and V3)", async () => {
    const s = await start();
    const all = encode({ ...BUY, timestamp: Date.now() });
    const sig = createHmac('sha256', V1_SECRET).update(all).digest('hex');
    const [first, ...rest] = all.split('&');
    const body = [first, `signature=${sig}`, ...rest].join('&');
    const r1 = await raw(`${s.restUrl}/fapi/v1/order`, {
      method: 'POST',
      headers: { 'X-MBX-APIKEY': V1_KEY, 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(r1.status).toBe(400);
    expect((r1.json as Obj).code).toBe(-1022);
    expect((r1.json as Obj).msg).toMatch(/last parameter/);

    const msg = encode({ ...BUY, nonce: nextNonce(), user: V3_USER, signer: V3_SIGNER });
    const parts = msg.split('&');
    const moved = [parts[0], `signature=${await v3Sign(msg)}`, ...parts.slice(1)].join('&');
    const r3 = await raw(`${s.restUrl}/fapi/v3/order?${moved}`, { method: 'POST' });
    expect((r3.json as Obj).code).toBe(-1022);
    expect(s.state().fills).toHaveLength(0);
    // the same requests with the signature last go through
    expect((await v1(s.restUrl, 'POST', '/fapi/v1/order', BUY)).status).toBe(200);
    expect((await v3(s.restUrl, 'POST', '/fapi/v3/order', BUY)).status).toBe(200);
  });

  it('routes answer only under their documented versions', async () => {
    const s = await start();
    for (const path of ['/fapi/v2/klines', '/fapi/v4/time', '/fapi/v2/depth']) {
      const r = await raw(`${s.restUrl}${path}?symbol=BTCUSDT&interval=5m`);
      expect([path, r.status, (r.json as Obj).code]).toEqual([path, 404, -1000]);
    }
    expect((await raw(`${s.restUrl}/fapi/v3/klines?symbol=BTCUSDT&interval=5m&limit=1`)).status).toBe(200);
    expect((await v1(s.restUrl, 'POST', '/fapi/v4/order', BUY)).status).toBe(404);
    expect((await v1(s.restUrl, 'POST', '/fapi/v2/order', BUY)).status).toBe(404);
    expect((await v1(s.restUrl, 'GET', '/fapi/v1/balance', {})).status).toBe(404);
    expect((await v1(s.restUrl, 'GET', '/fapi/v1/positionRisk', {})).status).toBe(404);
    expect((await v1(s.restUrl, 'GET', '/fapi/v2/balance', {})).status).toBe(200);
    expect((await v1(s.restUrl, 'GET', '/fapi/v4/account', {})).status).toBe(200);
    expect((await v3(s.restUrl, 'GET', '/fapi/v3/accountWithJoinMargin', {})).status).toBe(200);
    expect((await v1(s.restUrl, 'GET', '/fapi/v1/accountWithJoinMargin', {})).status).toBe(404);
  });

  it('ORDERS limits per 10 s and per minute answer 429 / -1015 with the order counts in headers', async () => {
    // a frozen wall clock keeps every order in one window
    const T0 = Date.now();
    const clock = { now: () => T0, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms) };
    const s = await start({ clock, orderLimitPer10s: 3, orderLimitPerMinute: 1200 });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof v1>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await v1(s.restUrl, 'POST', '/fapi/v1/order', BUY, { timestamp: T0 });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((last!.json as Obj).code).toBe(-1015);
    expect((last!.json as Obj).msg).toBe('Too many new orders; current limit is 3 orders per 10 SECOND.');
    expect(last!.headers.get('x-mbx-order-count-10s')).toBe('4');
    expect(s.state().fills).toHaveLength(3);
    await s.close();
    sim = undefined;
    const m = await start({ clock, orderLimitPer10s: 300, orderLimitPerMinute: 2 });
    const codes: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await v1(m.restUrl, 'POST', '/fapi/v1/order', BUY, { timestamp: T0 });
      codes.push(r.status === 200 ? 200 : (r.json as Obj).code);
    }
    expect(codes).toEqual([200, 200, -1015]);
  });
});
