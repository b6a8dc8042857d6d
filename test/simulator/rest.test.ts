import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, V3_SIGNER, V3_USER, raw, v1, v3, v3Sign } from './kit.ts';

const BTC = fixtureColumns('BTCUSDT');
const ETH = fixtureColumns('ETHUSDT');
const START = 100;

type Obj = Record<string, unknown>;

describe('simulator REST (real sockets, 127.0.0.1)', () => {
  let sim: ExchangeSimulator;
  let base: string;
  beforeAll(async () => {
    sim = await startExchangeSimulator({
      series: [BTC, ETH],
      replayMs: 0,
      startIndex: START,
      initialBalance: 10_000,
      credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
      v3Credentials: [{ user: V3_USER, signer: V3_SIGNER }],
    });
    base = sim.restUrl;
  });
  afterAll(() => sim.close());

  it('answers ping/time/exchangeInfo with the real filters and the weight header', async () => {
    const ping = await raw(`${base}/fapi/v1/ping`);
    expect(ping.json).toEqual({});
    const w1 = Number(ping.headers.get('x-mbx-used-weight-1m'));
    const time = await raw(`${base}/fapi/v1/time`);
    expect(typeof (time.json as Obj).serverTime).toBe('number');
    expect(Number(time.headers.get('x-mbx-used-weight-1m'))).toBe(w1 + 1);
    const info = (await raw(`${base}/fapi/v1/exchangeInfo`)).json as { symbols: Obj[] };
    const real = JSON.parse(
      readFileSync(new URL('../../pipelines/aster-exchange-info-2026-01-12.json', import.meta.url), 'utf8'),
    ) as { symbols: Obj[] };
    expect(info.symbols.map((s) => s.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(info.symbols.find((s) => s.symbol === 'BTCUSDT')!.filters).toEqual(
      real.symbols.find((s) => s.symbol === 'BTCUSDT')!.filters,
    );
    const v3info = await raw(`${base}/fapi/v3/exchangeInfo`);
    expect(v3info.status).toBe(200);
    const spot = await raw(`${base}/api/v3/exchangeInfo`);
    expect((spot.json as Obj).symbols).toEqual([]);
  });

  it('serves klines only up to the replay cursor, never the future', async () => {
    const k = (await raw(`${base}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1500`)).json as unknown[][];
    expect(k).toHaveLength(START + 1);
    const lastRow = k.at(-1)!;
    expect(lastRow[0]).toBe(BTC.openTime[START]);
    expect(lastRow[4]).toBe(BTC.close[START]!.toFixed(1));
    expect(lastRow[6]).toBe(BTC.openTime[START]! + 300_000 - 1);
    // asking explicitly for later bars returns nothing past the cursor
    const future = (
      await raw(
        `${base}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&startTime=${BTC.openTime[START + 1]}&endTime=${BTC.openTime[START + 50]}`,
      )
    ).json as unknown[];
    expect(future).toEqual([]);
    expect(sim.advance(3)).toBe(3);
    const k2 = (await raw(`${base}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=2`)).json as unknown[][];
    expect(k2.map((r) => r[0])).toEqual([BTC.openTime[START + 2], BTC.openTime[START + 3]]);
    // an hour bucket built only from released bars
    const h = (await raw(`${base}/fapi/v1/klines?symbol=BTCUSDT&interval=1h&limit=1`)).json as unknown[][];
    const hourStart = Math.floor(BTC.openTime[START + 3]! / 3_600_000) * 3_600_000;
    expect(h[0]![0]).toBe(hourStart);
    expect(h[0]![4]).toBe(BTC.close[START + 3]!.toFixed(1));
    const badIv = await raw(`${base}/fapi/v1/klines?symbol=BTCUSDT&interval=7m`);
    expect(badIv.status).toBe(400);
    expect((badIv.json as Obj).code).toBe(-1120);
  });

  it('derives depth, book ticker and mark price from the current close and the tick', async () => {
    const klast = (await raw(`${base}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1`)).json as string[][];
    const close = Number(klast[0]![4]);
    const d = (await raw(`${base}/fapi/v1/depth?symbol=BTCUSDT&limit=5`)).json as {
      bids: string[][];
      asks: string[][];
    };
    expect(d.bids).toHaveLength(5);
    expect(Number(d.bids[0]![0])).toBeCloseTo(Math.floor(close / 0.1 + 1e-9) * 0.1, 6);
    expect(Number(d.asks[0]![0])).toBeCloseTo(Number(d.bids[0]![0]) + 0.1, 6);
    expect(Number(d.bids[1]![0])).toBeCloseTo(Number(d.bids[0]![0]) - 0.1, 6);
    const pi = (await raw(`${base}/fapi/v1/premiumIndex?symbol=BTCUSDT`)).json as Obj;
    expect(Number(pi.markPrice)).toBe(close);
    expect(typeof pi.nextFundingTime).toBe('number');
    const all = (await raw(`${base}/fapi/v1/premiumIndex`)).json as Obj[];
    expect(all).toHaveLength(2);
    const t = (await raw(`${base}/fapi/v1/ticker/24hr?symbol=ETHUSDT`)).json as Obj;
    expect(typeof t.lastPrice).toBe('string');
    const noTicker = await raw(`${base}/fapi/v1/ticker/24hr`);
    expect(noTicker.json).toHaveLength(2);
  });

  it('V1: accepts a valid HMAC, rejects a bad one (-1022), unknown key (-2015), stale timestamp (-1021)', async () => {
    const ok = await v1(base, 'GET', '/fapi/v2/balance', {});
    expect(ok.status).toBe(200);
    expect((ok.json as Obj[])[0]!.balance).toBe('10000.00000000');
    const badSig = await v1(base, 'GET', '/fapi/v2/balance', {}, { tamper: true });
    expect(badSig.status).toBe(400);
    expect(badSig.json).toEqual({ code: -1022, msg: 'Signature for this request is not valid.' });
    const badKey = await v1(base, 'GET', '/fapi/v2/balance', {}, { key: 'nope' });
    expect((badKey.json as Obj).code).toBe(-2015);
    const stale = await v1(base, 'GET', '/fapi/v2/balance', {}, { timestamp: Date.now() - 10_000 });
    expect((stale.json as Obj).code).toBe(-1021);
    const ahead = await v1(base, 'GET', '/fapi/v2/balance', {}, { timestamp: Date.now() + 5_000 });
    expect((ahead.json as Obj).code).toBe(-1021);
    const unsigned = await raw(`${base}/fapi/v2/balance?timestamp=${Date.now()}`, {
      headers: { 'X-MBX-APIKEY': V1_KEY },
    });
    expect((unsigned.json as Obj).code).toBe(-1102);
    const noKey = await raw(`${base}/fapi/v2/balance?timestamp=1&signature=ab`);
    expect((noKey.json as Obj).code).toBe(-2014);
  });

  it('V1: verifies query + body exactly as sent (mixed placement)', async () => {
    const ts = Date.now();
    const q = 'symbol=BTCUSDT&side=BUY&type=MARKET';
    const b = `quantity=0.001&recvWindow=5000&timestamp=${ts}`;
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', V1_SECRET)
      .update(q + b)
      .digest('hex');
    const r = await raw(`${base}/fapi/v1/order?${q}`, {
      method: 'POST',
      headers: { 'X-MBX-APIKEY': V1_KEY, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `${b}&signature=${sig}`,
    });
    expect(r.status).toBe(200);
    expect((r.json as Obj).symbol).toBe('BTCUSDT');
    expect(r.headers.get('x-mbx-order-count-1m')).not.toBeNull();
  });

  it('V3: accepts an EIP-712 signature, rejects a tampered one (-1022) and a reused or stale nonce (-4225)', async () => {
    const ok = await v3(base, 'GET', '/fapi/v3/balance', {});
    expect(ok.status).toBe(200);
    expect((ok.json as Obj[])[0]!.asset).toBe('USDT');
    const bad = await v3(base, 'GET', '/fapi/v3/balance', {}, { tamper: true });
    expect((bad.json as Obj).code).toBe(-1022);
    const nonce = Date.now() * 1000 + 777;
    expect((await v3(base, 'GET', '/fapi/v3/positionRisk', {}, { nonce })).status).toBe(200);
    const again = await v3(base, 'GET', '/fapi/v3/positionRisk', {}, { nonce });
    expect(again.json).toEqual({ code: -4225, msg: 'Nonce Expired' });
    const stale = await v3(base, 'GET', '/fapi/v3/positionRisk', {}, { nonce: (Date.now() - 60_000) * 1000 });
    expect((stale.json as Obj).code).toBe(-4225);
    // a V1 HMAC request on a V3 path is not a V3 signature
    const mixed = await v1(base, 'GET', '/fapi/v3/balance', {});
    expect(mixed.status).toBeGreaterThanOrEqual(400);
  });

  it('V3: the signature may travel in the body, and orders go through', async () => {
    const r = await v3(base, 'POST', '/fapi/v3/order', {
      symbol: 'ETHUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.010',
      newClientOrderId: 'v3-mkt-1',
      newOrderRespType: 'RESULT',
    });
    expect(r.status).toBe(200);
    const o = r.json as Obj;
    expect(o.status).toBe('FILLED');
    expect(o.clientOrderId).toBe('v3-mkt-1');
    const pos = (await v3(base, 'GET', '/fapi/v3/positionRisk', { symbol: 'ETHUSDT' })).json as Obj[];
    expect(pos[0]!.positionAmt).toBe('0.010');
    expect(pos[0]!.positionSide).toBe('BOTH');
    const q = await v3(base, 'GET', '/fapi/v3/order', { symbol: 'ETHUSDT', origClientOrderId: 'v3-mkt-1' });
    expect((q.json as Obj).status).toBe('FILLED');
  });

  it('rejects a duplicate newClientOrderId while the first is open (-4116), and cancels by client id', async () => {
    const price = (Math.floor(BTC.close[START + 3]! * 0.99 * 10) / 10).toFixed(1);
    const req = {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.001',
      price,
      newClientOrderId: 'dup-A',
    };
    const first = await v1(base, 'POST', '/fapi/v1/order', req);
    expect(first.status).toBe(200);
    expect((first.json as Obj).status).toBe('NEW');
    const second = await v1(base, 'POST', '/fapi/v1/order', req);
    expect(second.status).toBe(400);
    expect((second.json as Obj).code).toBe(-4116);
    const open = (await v1(base, 'GET', '/fapi/v1/openOrders', { symbol: 'BTCUSDT' })).json as Obj[];
    expect(open.map((o) => o.clientOrderId)).toContain('dup-A');
    const c = await v1(base, 'DELETE', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'dup-A' });
    expect((c.json as Obj).status).toBe('CANCELED');
    const c2 = await v1(base, 'DELETE', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'dup-A' });
    expect((c2.json as Obj).code).toBe(-2011);
    const missing = await v1(base, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', orderId: 999999 });
    expect(missing.json).toEqual({ code: -2013, msg: 'Order does not exist.' });
    const all = await v1(base, 'DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' });
    expect(all.json).toEqual({ code: '200', msg: 'The operation of cancel all open order is done.' });
  });

  it('batchOrders: mixes order objects and error objects in request order; batch cancel by id list', async () => {
    const last = BTC.close[START + 3]!;
    const below = (Math.floor(last * 0.98 * 10) / 10).toFixed(1);
    const batch = [
      {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.001',
        price: below,
        newClientOrderId: 'b-1',
      },
      { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.0001', price: below },
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001', reduceOnly: 'true' },
    ];
    const r = await v1(base, 'POST', '/fapi/v1/batchOrders', { batchOrders: JSON.stringify(batch) });
    expect(r.status).toBe(200);
    const out = r.json as Obj[];
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ clientOrderId: 'b-1', status: 'NEW' });
    expect(out[1]!.code).toBe(-1111);
    expect(out[2]).toEqual({ code: -2022, msg: 'ReduceOnly Order is rejected.' });
    const id = out[0]!.orderId as number;
    const c = await v1(base, 'DELETE', '/fapi/v1/batchOrders', {
      symbol: 'BTCUSDT',
      orderIdList: JSON.stringify([id, 987654]),
    });
    const cs = c.json as Obj[];
    expect(cs[0]).toMatchObject({ orderId: id, status: 'CANCELED' });
    expect(cs[1]).toEqual({ code: -2011, msg: 'Unknown order sent.' });
    const tooMany = await v1(base, 'POST', '/fapi/v1/batchOrders', {
      batchOrders: JSON.stringify([...batch, ...batch]),
    });
    expect((tooMany.json as Obj).code).toBe(-1130);
    const notJson = await v1(base, 'POST', '/fapi/v1/batchOrders', { batchOrders: '[{' });
    expect((notJson.json as Obj).code).toBe(-1130);
  });

  it('account, leverage, commission and listenKey calls have the Aster shapes', async () => {
    const acc = (await v1(base, 'GET', '/fapi/v4/account', {})).json as Obj;
    for (const k of ['totalWalletBalance', 'availableBalance', 'assets', 'positions']) expect(acc).toHaveProperty(k);
    const lev = await v1(base, 'POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 5 });
    // the cap of the last BTCUSDT bracket allowing 5× (bracket 6 of the shipped table)
    expect(lev.json).toEqual({ leverage: 5, maxNotionalValue: '100000000', symbol: 'BTCUSDT' });
    const badLev = await v1(base, 'POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 500 });
    expect((badLev.json as Obj).code).toBe(-4028);
    const cr = (await v1(base, 'GET', '/fapi/v1/commissionRate', { symbol: 'BTCUSDT' })).json as Obj;
    expect(cr).toEqual({ symbol: 'BTCUSDT', makerCommissionRate: '0.0001', takerCommissionRate: '0.00035' });
    // V1 listenKey: API key only, no signature
    const lk = await raw(`${base}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    const key = (lk.json as Obj).listenKey as string;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const same = await raw(`${base}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': V1_KEY } });
    expect((same.json as Obj).listenKey).toBe(key);
    const put = await raw(`${base}/fapi/v1/listenKey`, { method: 'PUT', headers: { 'X-MBX-APIKEY': V1_KEY } });
    expect(put.json).toEqual({});
    // V3 listenKey is signed
    const v3lk = await v3(base, 'POST', '/fapi/v3/listenKey', {});
    expect((v3lk.json as Obj).listenKey).toMatch(/^[0-9a-f]{64}$/);
    const unsignedV3 = await raw(`${base}/fapi/v3/listenKey`, { method: 'POST' });
    expect((unsignedV3.json as Obj).code).toBe(-1102);
  });

  it('answers malformed or unknown requests with Aster error JSON and keeps serving', async () => {
    const unknownPath = await raw(`${base}/fapi/v1/nope`);
    expect(unknownPath.status).toBe(404);
    expect(typeof (unknownPath.json as Obj).code).toBe('number');
    const badSymbol = await raw(`${base}/fapi/v1/klines?symbol=DOGEUSDT&interval=5m`);
    expect(badSymbol.json).toEqual({ code: -1121, msg: 'Invalid symbol.' });
    const noSymbol = await raw(`${base}/fapi/v1/klines?interval=5m`);
    expect((noSymbol.json as Obj).code).toBe(-1102);
    const garbage = await raw(`${base}/fapi/v1/order`, {
      method: 'POST',
      headers: { 'X-MBX-APIKEY': V1_KEY, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: '%%%&&&===signature',
    });
    expect(garbage.status).toBeGreaterThanOrEqual(400);
    expect(typeof (garbage.json as Obj).code).toBe('number');
    const badNum = await v1(base, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 'abc',
    });
    expect((badNum.json as Obj).code).toBe(-1102);
    const badType = await v1(base, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'FOO',
      quantity: '1',
    });
    expect((badType.json as Obj).code).toBe(-1116);
    const v3sig = await v3Sign('x');
    const junkV3 = await raw(`${base}/fapi/v3/order?symbol=BTCUSDT&signer=0xabc&nonce=1&signature=${v3sig}`, {
      method: 'POST',
    });
    expect((junkV3.json as Obj).code).toBe(-2015);
    expect((await raw(`${base}/fapi/v1/ping`)).status).toBe(200);
  });

  it('fuzz: arbitrary query strings and bodies get {code,msg} JSON (never a 5xx or a dropped connection)', async () => {
    const fc = await import('fast-check');
    const paths = ['/fapi/v1/order', '/fapi/v3/order', '/fapi/v1/klines', '/fapi/v2/balance', '/fapi/v1/batchOrders'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        fc.string({ maxLength: 80 }),
        fc.string({ maxLength: 80 }),
        fc.boolean(),
        async (path, method, query, body, withKey) => {
          const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
          if (withKey) headers['X-MBX-APIKEY'] = V1_KEY;
          const r = await raw(`${base}${path}?${encodeURI(query)}`, {
            method,
            headers,
            ...(method === 'GET' ? {} : { body }),
          });
          expect(r.status).toBeLessThan(500);
          if (r.status >= 400) {
            const j = r.json as Obj;
            expect(typeof j.code).toBe('number');
            expect(typeof j.msg).toBe('string');
          }
        },
      ),
      { numRuns: 150, seed: 7 },
    );
    expect((await raw(`${base}/fapi/v1/ping`)).status).toBe(200);
  });
});

describe('simulator REST: documented signature vectors', () => {
  it('accepts the documented V1 HMAC vector (server clock at its timestamp)', async () => {
    const ts = 1591702613943;
    const sim = await startExchangeSimulator({
      series: [BTC],
      replayMs: 0,
      startIndex: 10,
      initialBalance: 1_000_000,
      credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
      clock: { now: () => ts + 100 },
    });
    try {
      const body =
        'symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943';
      const sig = '3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9';
      const r = await raw(`${sim.restUrl}/fapi/v1/order`, {
        method: 'POST',
        headers: { 'X-MBX-APIKEY': V1_KEY, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `${body}&signature=${sig}`,
      });
      expect(r.status).toBe(200);
      expect((r.json as Obj).status).toBe('NEW');
      expect((r.json as Obj).price).toBe('9000.0');
      const r2 = await raw(`${sim.restUrl}/fapi/v1/order?${body}&signature=${sig}`, {
        method: 'POST',
        headers: { 'X-MBX-APIKEY': V1_KEY },
      });
      expect(r2.status).toBe(200);
      const wrong = await raw(`${sim.restUrl}/fapi/v1/order?${body.replace('9000', '9001')}&signature=${sig}`, {
        method: 'POST',
        headers: { 'X-MBX-APIKEY': V1_KEY },
      });
      expect((wrong.json as Obj).code).toBe(-1022);
    } finally {
      await sim.close();
    }
  });

  it('accepts the V3 EIP-712 vector of the reference (server clock at its nonce)', async () => {
    const nonceUs = 1748310859508867;
    const sim = await startExchangeSimulator({
      series: [BTC],
      replayMs: 0,
      initialBalance: 1000,
      v3Credentials: [{ user: V3_USER, signer: V3_SIGNER }],
      clock: { now: () => Math.floor(nonceUs / 1000) },
    });
    try {
      const msg = `symbol=ASTERUSDT&type=LIMIT&side=BUY&timeInForce=GTC&quantity=20&price=0.5&nonce=${nonceUs}&user=${V3_USER}&signer=${V3_SIGNER}`;
      const sig =
        '0x0a56c5923ebf3524475c5f631940ec4c0e41dbd300ad28198d1915d8f3ca49ce26fd1aeb8b0c3079133595da0de38322ae7e860e0c76d032c4a491d27c1430b01c';
      const r = await raw(`${sim.restUrl}/fapi/v3/order`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `${msg}&signature=${sig}`,
      });
      // authenticated; ASTERUSDT is simply not replayed here
      expect(r.json).toEqual({ code: -1121, msg: 'Invalid symbol.' });
      const testnetSig =
        '0xf91e000376f360c1661cf0fbc79a816e915dce485c616bd49c5e35c6cbc5ba5042ccf75a2bffd282676dbf698087a73982bfd1491a993eeedc276f6827c94a8c1c';
      const r2 = await raw(`${sim.restUrl}/fapi/v3/order`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `${msg.replace('nonce=1748310859508867', 'nonce=1748310859508867')}&signature=${testnetSig}`,
      });
      expect((r2.json as Obj).code).toBe(-1022);
    } finally {
      await sim.close();
    }
  });
});
