import { afterEach, describe, expect, it } from 'vitest';
import type { Bar } from '../../../pipelines/model/index.ts';
import { SapphireError } from '../../../pipelines/errors.ts';
import type { NewOrderRequest } from '../../../live/aster/order-precision.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterUserStream, type UserEvent } from '../../../live/aster/user-stream.ts';
import { AsterMarketStream, type StreamStatus } from '../../../live/aster/market-stream.ts';
import { BTC, START, eventually, exchangeClientIds, startPeer, type Peer, type Version } from './kit.ts';

/**
 * Each injected fault drives one resilience path of the client: the exchange never ends up with a
 * duplicate order (its own order list, by client id), and the client retries or stops as it must.
 */

let peer: Peer | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
  await peer?.sim.close();
  peer = undefined;
});

const market = (id: string): NewOrderRequest => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: 0.002,
  newClientOrderId: id,
  newOrderRespType: 'RESULT',
});

describe.each<Version>(['V1', 'V3'])('client resilience against injected faults, %s signing', (version) => {
  it('429 on an order: backs off for Retry-After, retries once, one order on the exchange', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    await c.filters('BTCUSDT'); // load exchangeInfo first: the fault must hit the order
    await c.premiumIndex('BTCUSDT');
    peer.sim.injectFault('rate-limit-429', { route: '/order', retryAfterS: 1 });
    const sentAt = Date.now();
    const r = await c.newOrder(market('f-429'), { markPrice: BTC.close[START]! });
    expect(r).toMatchObject({ status: 'accepted', order: { status: 'FILLED' } });
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900); // it waited for Retry-After (1 s)
    expect(c.counters.rateLimited).toBe(1);
    expect(peer.sim.state().faults['rate-limit-429']).toBe(1);
    expect(exchangeClientIds(peer)).toEqual(['f-429']);
  });

  it('418 on an order: stops, reports EXCHANGE_BANNED, sends nothing more until Retry-After', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    await c.filters('BTCUSDT');
    peer.sim.injectFault('ban-418', { route: '/order', retryAfterS: 120 });
    await expect(c.newOrder(market('f-418'), { markPrice: BTC.close[START]! })).rejects.toMatchObject({
      code: 'EXCHANGE_BANNED',
    });
    expect(c.banned).toBe(true);
    const requests = c.counters.requests;
    // within the ban every later call fails the same way without touching the exchange, the same intent too
    await expect(c.time()).rejects.toBeInstanceOf(SapphireError);
    await expect(c.newOrder(market('f-418'), { markPrice: BTC.close[START]! })).rejects.toMatchObject({
      code: 'EXCHANGE_BANNED',
    });
    expect(c.counters.requests).toBe(requests);
    expect(exchangeClientIds(peer)).toEqual([]);
  });

  it('503 "unknown" and the order WAS placed: found by client id, not re-sent', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    await c.filters('BTCUSDT');
    peer.sim.injectFault('unknown-503', { route: '/order', place: true });
    const r = await c.newOrder(market('f-503-placed'), { markPrice: BTC.close[START]! });
    expect(r).toMatchObject({ status: 'accepted', recovered: true, order: { clientOrderId: 'f-503-placed' } });
    expect(exchangeClientIds(peer)).toEqual(['f-503-placed']);
    expect(peer.sim.state().faults['unknown-503']).toBe(1);
  });

  it('503 "unknown" and the order was NOT placed: query says absent, re-sent once with the same id', async () => {
    peer = await startPeer(version, {}, { absentLookupSpacingMs: 100 });
    const c = peer.client;
    await c.filters('BTCUSDT');
    peer.sim.injectFault('unknown-503', { route: '/order', place: false });
    const r = await c.newOrder(market('f-503-absent'), { markPrice: BTC.close[START]! });
    expect(r).toMatchObject({ status: 'accepted', recovered: true, order: { status: 'FILLED' } });
    expect(exchangeClientIds(peer)).toEqual(['f-503-absent']);
    // the id is spent: the same intent again is refused locally, nothing reaches the exchange
    const again = await c.newOrder(market('f-503-absent'), { markPrice: BTC.close[START]! });
    expect(again).toMatchObject({ status: 'rejected', stage: 'duplicate-id' });
    expect(exchangeClientIds(peer)).toEqual(['f-503-absent']);
  });

  it('503 on the order AND on every query: reported unknown, never sent blind', async () => {
    peer = await startPeer(version, {}, { unknownOrderQueries: 2, sleep: () => Promise.resolve() });
    const c = peer.client;
    await c.filters('BTCUSDT');
    peer.sim.injectFault('unknown-503', { route: '/order', place: true });
    peer.sim.injectFault('unknown-503', { route: '/order' });
    peer.sim.injectFault('unknown-503', { route: '/order' });
    const r = await c.newOrder(market('f-503-dark'), { markPrice: BTC.close[START]! });
    expect(r.status).toBe('unknown');
    expect(exchangeClientIds(peer)).toEqual(['f-503-dark']);
    // retrying the intent looks it up first (the exchange answers now) instead of sending again
    const later = await c.newOrder(market('f-503-dark'), { markPrice: BTC.close[START]! });
    expect(later).toMatchObject({ status: 'accepted', recovered: true });
    expect(exchangeClientIds(peer)).toEqual(['f-503-dark']);
  });

  if (version === 'V1')
    it('-1021 on an order: resyncs the clock and retries once, one order on the exchange', async () => {
      peer = await startPeer(version);
      const c = peer.client;
      await c.filters('BTCUSDT');
      peer.sim.injectFault('timestamp-1021', { route: '/order' });
      const r = await c.newOrder(market('f-1021'), { markPrice: BTC.close[START]! });
      expect(r).toMatchObject({ status: 'accepted', order: { status: 'FILLED' } });
      expect(c.counters.resyncs).toBe(1);
      expect(peer.sim.state().faults['timestamp-1021']).toBe(1);
      expect(exchangeClientIds(peer)).toEqual(['f-1021']);
    });

  if (version === 'V1')
    it('-1021 twice: retried once only, then the rejection is reported (and nothing was placed)', async () => {
      peer = await startPeer(version);
      const c = peer.client;
      await c.filters('BTCUSDT');
      peer.sim.injectFault('timestamp-1021', { route: '/order' });
      peer.sim.injectFault('timestamp-1021', { route: '/order' });
      const r = await c.newOrder(market('f-1021x2'), { markPrice: BTC.close[START]! });
      expect(r).toMatchObject({ status: 'rejected', stage: 'exchange', code: -1021 });
      expect(c.counters.resyncs).toBe(1);
      expect(exchangeClientIds(peer)).toEqual([]);
    });

  it(`our clock 60 s behind: ${version === 'V1' ? '-1021' : '-4225 (nonce expired)'}, one resync, one order`, async () => {
    peer = await startPeer(version, {}, { now: () => Date.now() - 60_000 });
    const c = peer.client;
    await c.filters('BTCUSDT');
    const r = await c.newOrder(market('f-skew'), { markPrice: BTC.close[START]! });
    expect(r).toMatchObject({ status: 'accepted', order: { status: 'FILLED' } });
    expect(c.counters.resyncs).toBe(1);
    expect(c.clockOffsetMs).toBeGreaterThan(55_000);
    expect(exchangeClientIds(peer)).toEqual(['f-skew']);
    // later signed calls use the offset: no further resync
    await c.balance();
    expect(c.counters.resyncs).toBe(1);
  });

  it('dropped user-data socket: reconnects, the next fill still arrives, no order duplicated', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    const stream = new AsterUserStream({ wsUrl: peer.sim.wsUrl, rest: c, backoffInitialMs: 50, backoffMaxMs: 200 });
    cleanups.push(() => stream.stop());
    const events: UserEvent[] = [];
    const statuses: string[] = [];
    stream.events.subscribe((e) => events.push(e));
    stream.status.subscribe((s) => statuses.push(s.kind));
    await stream.start();
    await eventually(() => statuses.filter((s) => s === 'connected').length === 1);
    await c.newOrder(market('f-ws-1'), { markPrice: BTC.close[START]! });
    await eventually(() => events.some((e) => e.kind === 'order-update' && e.clientOrderId === 'f-ws-1'));

    peer.sim.injectFault('drop-user-ws');
    await c.time(); // socket faults fire on the next request
    await eventually(() => statuses.includes('disconnected'));
    await eventually(() => statuses.filter((s) => s === 'connected').length === 2);
    expect(peer.sim.state().faults['drop-user-ws']).toBe(1);

    await c.newOrder({ ...market('f-ws-2'), side: 'SELL', reduceOnly: true }, { markPrice: BTC.close[START]! });
    await eventually(() =>
      events.some((e) => e.kind === 'order-update' && e.clientOrderId === 'f-ws-2' && e.status === 'FILLED'),
    );
    expect(exchangeClientIds(peer).sort()).toEqual(['f-ws-1', 'f-ws-2']);
  });
});

describe('dropped market socket (public streams, no signing)', () => {
  it('reconnects, resubscribes, and bars keep coming in order without duplicates', async () => {
    peer = await startPeer('V1');
    const c = new AsterRestClient({ baseUrl: peer.sim.restUrl });
    const stream = new AsterMarketStream({
      wsUrl: peer.sim.wsUrl,
      symbols: ['BTCUSDT'],
      interval: '5m',
      klines: (q) => c.klines(q),
      backoffInitialMs: 50,
      backoffMaxMs: 200,
    });
    cleanups.push(() => stream.stop());
    const bars: Bar[] = [];
    const statuses: StreamStatus[] = [];
    stream.bars.subscribe((b) => bars.push(b));
    stream.status.subscribe((s) => statuses.push(s));
    stream.seed('BTCUSDT', BTC.openTime[START]!);
    stream.start();
    await eventually(() => peer!.sim.state().marketSockets === 1);
    peer.sim.advance(2);
    await eventually(() => bars.length === 2);

    peer.sim.injectFault('drop-market-ws');
    await c.time();
    await eventually(() => statuses.some((s) => s.kind === 'disconnected'));
    await eventually(() => statuses.filter((s) => s.kind === 'connected').length === 2);
    await eventually(() => peer!.sim.state().marketSockets === 1);
    peer.sim.advance(3);
    await eventually(() => bars.length >= 5);
    const opens = bars.map((b) => b.openTime);
    expect(opens.slice(0, 5)).toEqual(Array.from(BTC.openTime.subarray(START + 1, START + 6)));
    expect(new Set(opens).size).toBe(opens.length);
    expect(bars[4]!.close).toBe(BTC.close[START + 5]);
  });
});
