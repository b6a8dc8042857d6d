import { afterEach, describe, expect, it } from 'vitest';
import { AsterRestClient, AsterApiError, type RequestInfo } from '../../../live/aster/rest-client.ts';
import { isSapphireError } from '../../../pipelines/errors.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { EXCHANGE_INFO, RestPeer, orderReply, type PeerAuth } from './kit/rest-peer.ts';

const HMAC = {
  kind: 'hmac' as const,
  apiKey: 'dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83',
  secretKey: '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9',
};
const V3 = {
  kind: 'eip712' as const,
  user: '0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e',
  signer: '0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0',
  privateKey: '0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1',
  chainId: 1666,
};
const BTC = fixtureBars('BTCUSDT');
const MARK = BTC[0]!.close; // 102494.2, a real close

const peers: RestPeer[] = [];
async function peer(auth?: PeerAuth): Promise<RestPeer> {
  const p = await new RestPeer(auth).start();
  peers.push(p);
  return p;
}
afterEach(async () => {
  while (peers.length > 0) await peers.pop()!.stop();
});

const noSleep = async (): Promise<void> => {};

function v1Routes(p: RestPeer, base = '/fapi/v1'): RestPeer {
  return p
    .on('GET', `${base}/exchangeInfo`, () => ({ body: EXCHANGE_INFO }))
    .on('GET', `${base}/premiumIndex`, (r) => ({
      body: { symbol: r.params.symbol, markPrice: String(MARK), indexPrice: String(MARK), time: BTC[0]!.time },
    }))
    .on('POST', `${base}/order`, (r) => ({ body: orderReply(r.params) }));
}

describe('AsterRestClient market data', () => {
  it('parses exchangeInfo filters (strings or numbers) and caches them', async () => {
    const p = v1Routes(await peer());
    const c = new AsterRestClient({ baseUrl: p.url });
    const f = await c.exchangeInfo();
    expect(f.get('BTCUSDT')).toMatchObject({ tickSize: 0.1, stepSize: 0.001, marketMaxQty: 120, minNotional: 5 });
    expect(f.get('ETHUSDT')).toMatchObject({ minPrice: 39.9, multiplierUp: 1.02, pricePrecision: 2 });
    await c.filters('BTCUSDT');
    await c.exchangeInfo();
    expect(p.count('GET', '/fapi/v1/exchangeInfo')).toBe(1);
  });

  it('converts klines, premiumIndex, fundingRate, ticker and depth once at the edge', async () => {
    const rows = BTC.slice(0, 3).map((b) => [
      b.openTime,
      String(b.open),
      String(b.high),
      String(b.low),
      String(b.close),
      String(b.volume),
      b.time - 1,
      '153000000.5',
      1200,
      '700.25',
      '71500000.125',
      '0',
    ]);
    const p = (await peer())
      .on('GET', '/fapi/v1/klines', () => ({ body: rows }))
      .on('GET', '/fapi/v1/fundingRate', () => ({
        body: [{ symbol: 'BTCUSDT', fundingRate: '0.00010000', fundingTime: 1738022400000 }],
      }))
      .on('GET', '/fapi/v1/ticker/24hr', () => ({
        body: { symbol: 'BTCUSDT', lastPrice: '102494.2', volume: '1496.797' },
      }))
      .on('GET', '/fapi/v1/depth', () => ({
        body: { lastUpdateId: 7, bids: [['102494.1', '1.5']], asks: [['102494.2', '0.25']] },
      }))
      .on('GET', '/fapi/v1/time', () => ({ body: { serverTime: 1738022400000 } }));
    const c = new AsterRestClient({ baseUrl: p.url });
    const k = await c.klines({ symbol: 'BTCUSDT', interval: '5m', limit: 3 });
    expect(k[1]).toEqual({
      openTime: BTC[1]!.openTime,
      open: BTC[1]!.open,
      high: BTC[1]!.high,
      low: BTC[1]!.low,
      close: BTC[1]!.close,
      volume: BTC[1]!.volume,
      closeTime: BTC[1]!.time - 1,
      flow: { quoteVolume: 153000000.5, trades: 1200, takerBuyVolume: 700.25, takerBuyQuoteVolume: 71500000.125 },
    });
    expect(p.requests[0]!.rawQuery).toBe('symbol=BTCUSDT&interval=5m&limit=3');
    expect((await c.fundingRate({ symbol: 'BTCUSDT' }))[0]!.fundingRate).toBe(0.0001);
    expect((await c.ticker24h('BTCUSDT')).lastPrice).toBe(102494.2);
    expect((await c.depth('BTCUSDT', 5)).asks[0]).toEqual([102494.2, 0.25]);
    expect(await c.time()).toBe(1738022400000);
  });

  it('an unexpected payload is an EXCHANGE_PAYLOAD error with the raw text, never a zero', async () => {
    const p = (await peer()).on('GET', '/fapi/v1/premiumIndex', () => ({ body: { symbol: 'BTCUSDT', markPrice: '' } }));
    const c = new AsterRestClient({ baseUrl: p.url });
    const e = await c.premiumIndex('BTCUSDT').catch((x: unknown) => x);
    expect(isSapphireError(e, 'EXCHANGE_PAYLOAD')).toBe(true);
    expect((e as Error).message).toContain('"markPrice":""');
  });

  it('syncs the clock offset from the server time', async () => {
    const p = (await peer()).on('GET', '/fapi/v1/time', () => ({ body: { serverTime: 1_000_500 } }));
    const c = new AsterRestClient({ baseUrl: p.url, now: () => 1_000_000 });
    const s = await c.syncTime();
    expect(s.offsetMs).toBe(500);
    expect(c.serverNow()).toBe(1_000_500);
  });
});

describe('AsterRestClient signing on the wire', () => {
  it('V1: HMAC over the exact body, API key header, timestamp + recvWindow; peer verifies', async () => {
    const p = v1Routes(await peer(HMAC));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC, recvWindow: 7000 });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      quantity: 0.0019,
      price: 102494.27,
      newClientOrderId: 'sap-1',
    });
    expect(r.status).toBe('accepted');
    const sent = p.requests.find((x) => x.method === 'POST')!;
    expect(sent.rawBody).toMatch(
      /^symbol=BTCUSDT&side=BUY&type=LIMIT&price=102494.2&timeInForce=GTC&quantity=0.001&newClientOrderId=sap-1&recvWindow=7000&timestamp=\d+&signature=[0-9a-f]{64}$/,
    );
    expect(sent.headers['x-mbx-apikey']).toBe(HMAC.apiKey);
  });

  it('V1: a wrong secret is refused by the peer with -1022, surfaced as an exchange rejection', async () => {
    const p = v1Routes(await peer(HMAC));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: { ...HMAC, secretKey: 'f'.repeat(64) } });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.001,
      newClientOrderId: 'a',
    });
    expect(r).toMatchObject({ status: 'rejected', stage: 'exchange', code: -1022 });
  });

  it('V3: EIP-712 over the body with nonce/user/signer, v3 routes, no API key; peer recovers the signer', async () => {
    const p = v1Routes(await peer({ kind: 'eip712', signer: V3.signer, chainId: 1666 }), '/fapi/v3')
      .on('GET', '/fapi/v3/accountWithJoinMargin', () => ({
        body: { totalWalletBalance: '1000.5', assets: [{ asset: 'USDT', walletBalance: '1000.5' }], positions: [] },
      }))
      .on('POST', '/fapi/v3/listenKey', () => ({ body: { listenKey: 'lk-1' } }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: V3 });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'MARKET',
      quantity: 0.002,
      newClientOrderId: 'v3-1',
    });
    expect(r.status).toBe('accepted');
    const sent = p.requests.find((x) => x.method === 'POST')!;
    expect(sent.rawBody).toMatch(/&nonce=\d{16}&user=0x63DD.*&signer=0x21cF.*&signature=0x[0-9a-f]{130}$/);
    expect(sent.rawBody).not.toContain('timestamp');
    expect(sent.headers['x-mbx-apikey']).toBeUndefined();
    expect((await c.account()).totalWalletBalance).toBe(1000.5);
    expect(await c.createListenKey()).toBe('lk-1'); // signed in V3
    expect(p.requests.at(-1)!.params.signature).toMatch(/^0x/);
  });

  it('V3: nonces of consecutive requests strictly increase', async () => {
    const p = (await peer({ kind: 'eip712', signer: V3.signer, chainId: 1666 })).on(
      'GET',
      '/fapi/v3/openOrders',
      () => ({
        body: [],
      }),
    );
    const c = new AsterRestClient({ baseUrl: p.url, credentials: V3, now: () => 1_738_022_400_000 });
    for (let i = 0; i < 3; i++) await c.openOrders('BTCUSDT');
    const nonces = p.requests.map((r) => Number(r.params.nonce));
    expect(nonces).toEqual([1_738_022_400_000_000, 1_738_022_400_000_001, 1_738_022_400_000_002]);
  });
});

describe('precision before sending', () => {
  it('floors quantity, rounds prices per side, and refuses bad orders with a typed reason and no request', async () => {
    const p = v1Routes(await peer(HMAC));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    const sell = await c.newOrder(
      {
        symbol: 'BTCUSDT',
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: 0.0159,
        stopPrice: 100000.01,
        newClientOrderId: 's1',
      },
      { markPrice: MARK },
    );
    expect(sell.status).toBe('accepted');
    const sent = p.requests.at(-1)!.params;
    expect(sent.stopPrice).toBe('100000.1'); // SELL rounds up
    expect(sent.quantity).toBe('0.015'); // floored, never more than asked

    const before = p.requests.length;
    const cases = [
      [{ quantity: 0.0004 }, 'min-qty'],
      [{ quantity: 121 }, 'max-qty'],
      [{ quantity: 0.001, type: 'LIMIT', price: MARK * 0.04 }, 'min-notional'],
      [{ quantity: 0.01, type: 'LIMIT', price: MARK * 1.05 }, 'percent-price'],
      [{ quantity: 0.01, type: 'TRAILING_STOP_MARKET', callbackRate: 7 }, 'callback-rate'],
      [{ quantity: 0.01, newClientOrderId: 'bad id!' }, 'client-order-id'],
      [{ quantity: 0.01, type: 'MARKET', closePosition: true }, 'close-position'],
    ] as const;
    for (const [patch, rule] of cases) {
      const r = await c.newOrder(
        { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', newClientOrderId: `p-${rule}`, ...patch },
        { markPrice: MARK },
      );
      expect(r).toMatchObject({ status: 'rejected', stage: 'precision', rule });
    }
    expect(p.requests.length).toBe(before);
  });

  it('reduceOnly is exempt from min notional; closePosition sends no quantity', async () => {
    const p = v1Routes(await peer(HMAC));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    const r1 = await c.newOrder(
      {
        symbol: 'BTCUSDT',
        side: 'SELL',
        type: 'MARKET',
        quantity: 0.00001 + 0.001,
        reduceOnly: true,
        newClientOrderId: 'r1',
      },
      { markPrice: 1000 },
    );
    expect(r1.status).toBe('accepted');
    expect(p.requests.at(-1)!.params.reduceOnly).toBe('true');
    const r2 = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'TAKE_PROFIT_MARKET',
      stopPrice: 95000.04,
      closePosition: true,
      newClientOrderId: 'tp1',
    });
    expect(r2.status).toBe('accepted');
    const sent = p.requests.at(-1)!.params;
    expect(sent.quantity).toBeUndefined();
    expect(sent.closePosition).toBe('true');
    expect(sent.stopPrice).toBe('95000'); // BUY rounds down
  });
});

describe('resilience', () => {
  it('tracks X-MBX-USED-WEIGHT-1M and reports every request through onRequest', async () => {
    const p = (await peer()).on('GET', '/fapi/v1/time', () => ({
      body: { serverTime: 1 },
      headers: { 'X-MBX-USED-WEIGHT-1M': '37' },
    }));
    const seen: RequestInfo[] = [];
    const c = new AsterRestClient({ baseUrl: p.url, onRequest: (i) => seen.push(i) });
    await c.time();
    expect(c.weight).toBe(37);
    expect(seen).toEqual([expect.objectContaining({ method: 'GET', path: '/fapi/v1/time', status: 200, weight: 37 })]);
  });

  it('429 → waits Retry-After then retries', async () => {
    const p = (await peer()).on(
      'GET',
      '/fapi/v1/time',
      () => ({ status: 429, body: { code: -1003, msg: 'Too many requests' }, headers: { 'Retry-After': '2' } }),
      () => ({ body: { serverTime: 42 } }),
    );
    const waits: number[] = [];
    let t = 1_000_000;
    const c = new AsterRestClient({
      baseUrl: p.url,
      now: () => t,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    expect(await c.time()).toBe(42);
    expect(waits).toEqual([2000]);
    expect(c.counters.rateLimited).toBe(1);
  });

  it('429 without Retry-After backs off exponentially and gives up after the limit', async () => {
    const p = (await peer()).on('GET', '/fapi/v1/time', () => ({
      status: 429,
      body: { code: -1003, msg: 'Too many' },
    }));
    const waits: number[] = [];
    let t = 0;
    const c = new AsterRestClient({
      baseUrl: p.url,
      now: () => t,
      maxRateLimitRetries: 2,
      rateLimitBackoffMs: 100,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    const e = await c.time().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AsterApiError);
    expect((e as AsterApiError).exchangeCode).toBe(-1003);
    expect(waits).toEqual([100, 200]);
    expect(p.count('GET', '/fapi/v1/time')).toBe(3);
  });

  it('418 → EXCHANGE_BANNED, and no further request leaves the client', async () => {
    const p = (await peer())
      .on('GET', '/fapi/v1/time', () => ({
        status: 418,
        body: { code: -1003, msg: 'Way too many requests; IP banned' },
      }))
      .on('GET', '/fapi/v1/exchangeInfo', () => ({ body: EXCHANGE_INFO }));
    const c = new AsterRestClient({ baseUrl: p.url, sleep: noSleep });
    expect(isSapphireError(await c.time().catch((x: unknown) => x), 'EXCHANGE_BANNED')).toBe(true);
    expect(c.banned).toBe(true);
    expect(isSapphireError(await c.exchangeInfo().catch((x: unknown) => x), 'EXCHANGE_BANNED')).toBe(true);
    expect(p.requests.length).toBe(1);
  });

  it('418 without Retry-After: a bounded ban (banDefaultMs, default 120 s), then the client tries again', async () => {
    const p = (await peer()).on(
      'GET',
      '/fapi/v1/time',
      () => ({ status: 418, body: { code: -1003, msg: 'Way too many requests; IP banned' } }),
      () => ({ body: { serverTime: 1_738_022_400_000 } }),
    );
    let t = 1_738_022_400_000;
    const c = new AsterRestClient({ baseUrl: p.url, sleep: noSleep, now: () => t });
    expect(isSapphireError(await c.time().catch((x: unknown) => x), 'EXCHANGE_BANNED')).toBe(true);
    t += 119_000;
    expect(c.banned).toBe(true);
    expect(c.banRemainingMs).toBe(1_000);
    expect(isSapphireError(await c.time().catch((x: unknown) => x), 'EXCHANGE_BANNED')).toBe(true);
    expect(p.requests.length).toBe(1); // nothing left the client within the ban
    t += 1_000;
    expect(c.banned).toBe(false);
    expect(await c.time()).toBe(1_738_022_400_000);
    expect(p.requests.length).toBe(2);
  });

  it('-1021 → resyncs the clock and retries once with a corrected timestamp', async () => {
    const serverTime = 1_738_022_400_000;
    const p = (await peer(HMAC))
      .on('GET', '/fapi/v1/time', () => ({ body: { serverTime } }))
      .on('GET', '/fapi/v1/openOrders', (r) =>
        Math.abs(Number(r.params.timestamp) - serverTime) > 1000
          ? { status: 400, body: { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' } }
          : { body: [] },
      );
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC, now: () => serverTime - 30_000 });
    expect(await c.openOrders('BTCUSDT')).toEqual([]);
    expect(p.count('GET', '/fapi/v1/openOrders')).toBe(2);
    expect(c.counters.resyncs).toBe(1);
  });

  it('V3 -4225 (nonce expired) → resyncs the clock and retries once with a fresh nonce', async () => {
    const serverTime = 1_738_022_400_000;
    const p = (await peer({ kind: 'eip712', signer: V3.signer, chainId: 1666 }))
      .on('GET', '/fapi/v3/time', () => ({ body: { serverTime } }))
      .on('GET', '/fapi/v3/openOrders', (r) =>
        Math.abs(Number(r.params.nonce) / 1000 - serverTime) > 10_000
          ? { status: 400, body: { code: -4225, msg: 'Nonce Expired' } }
          : { body: [] },
      );
    const c = new AsterRestClient({ baseUrl: p.url, credentials: V3, now: () => serverTime - 60_000 });
    expect(await c.openOrders('BTCUSDT')).toEqual([]);
    expect(p.count('GET', '/fapi/v3/openOrders')).toBe(2);
  });

  it('near the weight limit, waits for the next exchange minute instead of provoking a 429', async () => {
    let t = 1_738_022_430_000; // 30 s into a minute
    const p = (await peer()).on('GET', '/fapi/v1/time', () => ({
      body: { serverTime: 1 },
      headers: { 'X-MBX-USED-WEIGHT-1M': '2390' },
    }));
    const waits: number[] = [];
    const c = new AsterRestClient({
      baseUrl: p.url,
      now: () => t,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    await c.time();
    expect(waits).toEqual([]);
    await c.time();
    expect(waits).toEqual([30_000]);
    expect(c.counters.throttled).toBe(1);
  });

  it('-1021 twice is not retried forever', async () => {
    const p = (await peer(HMAC))
      .on('GET', '/fapi/v1/time', () => ({ body: { serverTime: 5 } }))
      .on('GET', '/fapi/v1/openOrders', () => ({ status: 400, body: { code: -1021, msg: 'outside recvWindow' } }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    const e = await c.openOrders().catch((x: unknown) => x);
    expect((e as AsterApiError).exchangeCode).toBe(-1021);
    expect(p.count('GET', '/fapi/v1/openOrders')).toBe(2);
  });

  it('503 on newOrder → queries by client id; found → accepted, never re-sent', async () => {
    const p = v1Routes(await peer(HMAC))
      .on('POST', '/fapi/v1/order', () => ({
        status: 503,
        body: { code: -1000, msg: 'Unknown error, please check your request or try again later.' },
      }))
      .on('GET', '/fapi/v1/order', (r) => ({
        body: orderReply({ ...r.params, type: 'MARKET', side: 'BUY' }, 'FILLED', 77),
      }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC, sleep: noSleep });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.002,
      newClientOrderId: 'u1',
    });
    expect(r).toMatchObject({ status: 'accepted', recovered: true, order: { orderId: 77, status: 'FILLED' } });
    expect(p.count('POST', '/fapi/v1/order')).toBe(1);
    expect(p.requests.find((x) => x.method === 'GET' && x.path === '/fapi/v1/order')!.params.origClientOrderId).toBe(
      'u1',
    );
  });

  it('timeout on newOrder → absent on 3 spaced lookups (default) → re-sent once with the same client id', async () => {
    const p = v1Routes(await peer(HMAC))
      .on(
        'POST',
        '/fapi/v1/order',
        () => ({ hang: true }),
        (r) => ({ body: orderReply(r.params, 'NEW', 9) }),
      )
      .on('GET', '/fapi/v1/order', () => ({ status: 400, body: { code: -2013, msg: 'Order does not exist.' } }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC, timeoutMs: 300, sleep: noSleep });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.002,
      newClientOrderId: 't1',
    });
    expect(r).toMatchObject({ status: 'accepted', recovered: true });
    const posts = p.requests.filter((x) => x.method === 'POST');
    expect(posts.map((x) => x.params.newClientOrderId)).toEqual(['t1', 't1']);
    // one "does not exist" is not absence: the exchange may not have indexed the order yet
    expect(p.count('GET', '/fapi/v1/order')).toBe(3);
  });

  it('503 on newOrder and the query also fails → unknown, and a later identical call looks before sending', async () => {
    let queryOk = false;
    const p = v1Routes(await peer(HMAC))
      .on('POST', '/fapi/v1/order', () => ({ status: 503, body: { code: -1000, msg: 'unknown' } }))
      .on('GET', '/fapi/v1/order', (r) =>
        queryOk
          ? { body: orderReply({ ...r.params, type: 'MARKET', side: 'BUY' }, 'FILLED', 5) }
          : { status: 503, body: {} },
      );
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC, sleep: noSleep, unknownOrderQueries: 2 });
    const req = { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'k1' } as const;
    expect((await c.newOrder(req)).status).toBe('unknown');
    expect(p.count('POST', '/fapi/v1/order')).toBe(1);
    queryOk = true;
    expect(await c.newOrder(req)).toMatchObject({ status: 'accepted', recovered: true });
    expect(p.count('POST', '/fapi/v1/order')).toBe(1);
  });

  it('one client order id is never used for two different intents, nor sent twice once accepted', async () => {
    const p = v1Routes(await peer(HMAC));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    const a = { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'd1' } as const;
    expect((await c.newOrder(a)).status).toBe('accepted');
    expect(await c.newOrder({ ...a, side: 'SELL' })).toMatchObject({ status: 'rejected', stage: 'duplicate-id' });
    expect(await c.newOrder(a)).toMatchObject({ status: 'rejected', stage: 'duplicate-id' });
    expect(p.count('POST', '/fapi/v1/order')).toBe(1);
  });

  it('an exchange rejection is returned with its code; secrets never appear in errors', async () => {
    const p = v1Routes(await peer(HMAC)).on('POST', '/fapi/v1/order', (r) => ({
      status: 400,
      body: { code: -2019, msg: `Margin is insufficient. echo ${r.rawBody}` },
    }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    const r = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.002,
      newClientOrderId: 'm1',
    });
    expect(r).toMatchObject({ status: 'rejected', stage: 'exchange', code: -2019 });
    const text = JSON.stringify(r);
    expect(text).not.toContain(HMAC.secretKey);
    expect(text).not.toMatch(/signature=[0-9a-f]{64}/);
  });

  it('account endpoints use the V1/V2/V4 paths and parse leniently', async () => {
    const p = (await peer(HMAC))
      .on('GET', '/fapi/v2/balance', () => ({ body: [{ asset: 'USDT', balance: '100.5', availableBalance: '90' }] }))
      .on('GET', '/fapi/v2/positionRisk', () => ({
        body: [{ symbol: 'BTCUSDT', positionAmt: '-0.002', entryPrice: '102494.2', positionSide: 'BOTH' }],
      }))
      .on('GET', '/fapi/v4/account', () => ({ body: { assets: [], positions: [] } }))
      .on('POST', '/fapi/v1/leverage', (r) => ({
        body: { leverage: Number(r.params.leverage), symbol: r.params.symbol },
      }))
      .on('GET', '/fapi/v1/commissionRate', () => ({
        body: { symbol: 'BTCUSDT', makerCommissionRate: '0.0001', takerCommissionRate: '0.00035' },
      }))
      .on('DELETE', '/fapi/v1/allOpenOrders', () => ({ body: { code: '200', msg: 'done' } }))
      .on('DELETE', '/fapi/v1/order', (r) => ({
        body: orderReply({ ...r.params, side: 'BUY', type: 'LIMIT' }, 'CANCELED'),
      }))
      .on('POST', '/fapi/v1/listenKey', () => ({ body: { listenKey: 'abc' } }))
      .on('PUT', '/fapi/v1/listenKey', () => ({ body: {} }))
      .on('DELETE', '/fapi/v1/listenKey', () => ({ body: {} }));
    const c = new AsterRestClient({ baseUrl: p.url, credentials: HMAC });
    expect((await c.balance())[0]!.balance).toBe(100.5);
    expect((await c.positionRisk('BTCUSDT'))[0]!.positionAmt).toBe(-0.002);
    expect((await c.account()).positions).toEqual([]);
    expect((await c.changeLeverage('BTCUSDT', 5)).leverage).toBe(5);
    expect((await c.commissionRate('BTCUSDT')).takerCommissionRate).toBe(0.00035);
    expect((await c.cancelAllOpenOrders('BTCUSDT')).code).toBe('200');
    expect((await c.cancelOrder({ symbol: 'BTCUSDT', origClientOrderId: 'x1' })).status).toBe('CANCELED');
    expect(await c.createListenKey()).toBe('abc');
    await c.keepAliveListenKey();
    await c.closeListenKey();
    const lk = p.requests.filter((r) => r.path === '/fapi/v1/listenKey');
    expect(lk.map((r) => r.method)).toEqual(['POST', 'PUT', 'DELETE']);
    expect(lk.every((r) => r.params.signature === undefined && r.headers['x-mbx-apikey'] === HMAC.apiKey)).toBe(true);
  });
});
