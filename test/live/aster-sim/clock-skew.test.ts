import { afterEach, describe, expect, it } from 'vitest';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { NewOrderRequest } from '../../../live/aster/order-precision.ts';
import { asterMarketSource } from '../../../live/service/aster-source.ts';
import type { MarketSource } from '../../../live/service/market-source.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../../pipelines/settings.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { BTC, ETH, START, exchangeClientIds, startPeer, type Peer, type Version } from './kit.ts';

/**
 * Our clock off from the exchange's, either way: V1 timestamps and V3 nonces come from the measured
 * server-time offset, re-measured on a clock error (-1021 / -4225). A fast clock used to lock V3 out
 * for good: its nonces never went back once issued ahead of the exchange.
 */

let peer: Peer | undefined;
let sim: ExchangeSimulator | undefined;
let source: MarketSource | undefined;
afterEach(async () => {
  await source?.close();
  await peer?.sim.close();
  await sim?.close();
  source = undefined;
  peer = undefined;
  sim = undefined;
});

const market = (id: string): NewOrderRequest => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: 0.002,
  newClientOrderId: id,
  newOrderRespType: 'RESULT',
});

// beyond both windows: V1 recvWindow 5 s (and 1 s ahead), V3 nonce ±10 s
const SKEWS = [30_000, -30_000];

describe.each<Version>(['V1', 'V3'])('clock skew, %s signing', (version) => {
  it.each(SKEWS)(
    'our clock off by %i ms: one resync, the order goes through once, later calls need none',
    async (skew) => {
      peer = await startPeer(version, {}, { now: () => Date.now() + skew });
      const c = peer.client;
      const r = await c.newOrder(market(`skew-${skew > 0 ? 'fast' : 'slow'}`), { markPrice: BTC.close[START]! });
      expect(r).toMatchObject({ status: 'accepted', order: { status: 'FILLED' } });
      expect(c.counters.resyncs).toBe(1);
      // the offset measured is the opposite of our error (loopback round trips are ~ms)
      expect(Math.abs(c.clockOffsetMs + skew)).toBeLessThan(1_000);
      expect(exchangeClientIds(peer)).toEqual([`skew-${skew > 0 ? 'fast' : 'slow'}`]);
      for (let i = 0; i < 3; i++) await c.balance();
      await c.openOrders('BTCUSDT');
      expect(c.counters.resyncs).toBe(1);
    },
  );

  it.each(SKEWS)('synced at start (%i ms off): no clock error at all', async (skew) => {
    peer = await startPeer(version, {}, { now: () => Date.now() + skew });
    const c = peer.client;
    await c.syncTime();
    await c.balance();
    const r = await c.newOrder(market('synced'), { markPrice: BTC.close[START]! });
    expect(r.status).toBe('accepted');
    expect(c.counters.resyncs).toBe(0);
    expect(c.counters.errors).toBe(0);
  });
});

describe.each<Version>(['V1', 'V3'])('the service syncs its clock before its first signed call, %s', (version) => {
  it.each(SKEWS)('exchange clock off by %i ms from ours: no signed request is refused', async (skew) => {
    // here the exchange's clock is the one skewed (the service's client uses the real clock)
    const tag = Math.random().toString(36).slice(2);
    const apiKey = `skew-key-${tag}`;
    const secretKey = `skew-secret-${tag}-not-real`;
    const signerKey = generatePrivateKey();
    const signer = privateKeyToAccount(signerKey).address;
    const user = privateKeyToAccount(generatePrivateKey()).address;
    sim = await startExchangeSimulator({
      series: [BTC, ETH],
      replayMs: 0,
      startIndex: START,
      initialBalance: 10_000,
      ...(version === 'V1' ? { credentials: [{ apiKey, secretKey }] } : { v3Credentials: [{ user, signer }] }),
      clock: { now: () => Date.now() - skew },
    });
    const settings = withOverrides(DEFAULT_SETTINGS, {
      SYMBOLS: 'BTCUSDT',
      BAR_INTERVAL: '5m',
      ...(version === 'V1'
        ? { ASTER_API_KEY: apiKey, ASTER_SECRET_KEY: secretKey }
        : { ASTER_USER: user, ASTER_SIGNER: signer, ASTER_SIGNER_PRIVATE_KEY: signerKey }),
    });
    const requests: { path: string; status: number }[] = [];
    source = await asterMarketSource(
      settings,
      { restUrl: sim.restUrl, wsUrl: sim.wsUrl },
      { onRequest: (r) => requests.push({ path: r.path, status: r.status }) },
    );
    // the first signed calls a service makes: reconciliation's position check
    expect(await source.venue!.verify([])).toBeNull();
    const signed = requests.findIndex((r) => /positionRisk/.test(r.path));
    const sync = requests.findIndex((r) => /\/time$/.test(r.path));
    expect(signed).toBeGreaterThan(-1);
    expect(sync).toBeGreaterThan(-1);
    expect(sync).toBeLessThan(signed);
    expect(requests.filter((r) => r.status !== 200)).toEqual([]);
  });
});
