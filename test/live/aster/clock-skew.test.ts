import { afterEach, describe, expect, it } from 'vitest';
import type { NewOrderRequest } from '../../../live/aster/order-precision.ts';
import { BTC, START, exchangeClientIds, startPeer, type Peer, type Version } from '../aster-sim/kit.ts';

/**
 * Issue 14 item 4: timestamps (V1) and nonces (V3) follow a server-time offset measured at start
 * and re-measured on a clock error — in either direction. The case was a local clock
 * running FAST: V3 answered -4225, resynced, and got -4225 again for ever.
 */

let peer: Peer | undefined;
afterEach(async () => {
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

describe.each<Version>(['V1', 'V3'])('a local clock that is wrong, %s signing', (version) => {
  it('our clock 60 s FAST, no sync at start: one clock error, one resync, one order, then no more resyncs', async () => {
    peer = await startPeer(version, {}, { now: () => Date.now() + 60_000 });
    const c = peer.client;
    await c.filters('BTCUSDT');
    const r = await c.newOrder(market('skew-fast'), { markPrice: BTC.close[START]! });
    expect(r).toMatchObject({ status: 'accepted', order: { status: 'FILLED' } });
    expect(c.counters.resyncs).toBe(1);
    expect(c.clockOffsetMs).toBeLessThan(-55_000);
    expect(exchangeClientIds(peer)).toEqual(['skew-fast']);
    await c.balance();
    await c.positionRisk();
    expect(c.counters.resyncs).toBe(1);
  });

  it('synced before the first signed call (as the service does): no clock error at all, fast or slow', async () => {
    for (const skew of [60_000, -60_000]) {
      peer = await startPeer(version, {}, { now: () => Date.now() + skew });
      const c = peer.client;
      await c.syncTime();
      const r = await c.newOrder(market(`skew-synced-${skew}`), { markPrice: BTC.close[START]! });
      expect(r).toMatchObject({ status: 'accepted' });
      expect(c.counters.resyncs).toBe(0);
      expect(peer.sim.state(peer.account).orders).toHaveLength(1);
      await peer.sim.close();
      peer = undefined;
    }
  });
});
