import { afterEach, describe, expect, it } from 'vitest';
import type { Order } from '../../../pipelines/model/index.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { reconcileOrders } from '../../../live/service/aster-source.ts';
import { BTC, START, startPeer, type Peer } from './kit.ts';
import { startLossyProxy, type LossyProxy } from './lossy-proxy.ts';

/**
 * Restart reconciliation asks the exchange what became of orders in flight at the crash. Only the
 * exchange's explicit "order does not exist" (-2013, on repeated lookups) means absent; a 503, a
 * timeout, a 429 or a ban is retried (or fails loudly), never read as "the order is unknown".
 */

let peer: Peer | undefined;
let proxy: LossyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await peer?.sim.close();
  proxy = undefined;
  peer = undefined;
});

const mark = BTC.close[START]!;
const order = (clientOrderId: string, quantity = 0.002): Order => ({
  kind: 'order',
  time: BTC.openTime[START]!,
  symbol: 'BTCUSDT',
  clientOrderId,
  side: 'BUY',
  type: 'MARKET',
  quantity,
  reduceOnly: false,
  stopPrice: 0,
  refPrice: mark,
  maxSlippageBps: 0,
  reason: 'entry',
});
const noSleep = async (): Promise<void> => {};

describe('restart reconciliation against the exchange (V1)', () => {
  it('a 503 on the lookup is retried: the order filled while we were down comes back as a Fill', async () => {
    peer = await startPeer('V1', {}, { sleep: noSleep, absentLookupSpacingMs: 0 });
    const placed = await peer.client.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'rc-filled' },
      { markPrice: mark },
    );
    expect(placed.status).toBe('accepted');
    peer.sim.injectFault('unknown-503', { route: '/order' });
    const out = await reconcileOrders(peer.client, [{ order: order('rc-filled'), filled: 0 }], 0.00035, {
      sleep: noSleep,
    });
    expect(peer.sim.state().faults['unknown-503']).toBe(1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'fill', clientOrderId: 'rc-filled', side: 'BUY' });
    const f = out[0] as { quantity: number; price: number };
    expect(f.quantity).toBeCloseTo(0.002, 12);
    // the fill price is the exchange's own record of the order
    const simOrder = peer.sim.state().orders.find((o) => o.clientOrderId === 'rc-filled')!;
    expect(f.price).toBe(peer.sim.state().fills.find((x) => x.orderId === simOrder.orderId)?.price);
  });

  it('503 on every lookup: reconciliation fails loudly, it never reports the order as unknown', async () => {
    peer = await startPeer('V1', {}, { sleep: noSleep, unknownOrderQueries: 2 });
    await peer.client.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'rc-dark' },
      { markPrice: mark },
    );
    for (let i = 0; i < 20; i++) peer.sim.injectFault('unknown-503', { route: '/order' });
    await expect(
      reconcileOrders(peer.client, [{ order: order('rc-dark'), filled: 0 }], 0.00035, { sleep: noSleep, rounds: 3 }),
    ).rejects.toMatchObject({ code: 'EXCHANGE_UNAVAILABLE' });
  });

  it('an order the exchange never saw (-2013 on every lookup) is rejected so the pipeline stops waiting', async () => {
    peer = await startPeer('V1', {}, { sleep: noSleep, absentLookups: 3 });
    const out = await reconcileOrders(peer.client, [{ order: order('rc-never'), filled: 0 }], 0.00035, {
      sleep: noSleep,
    });
    expect(out).toEqual([expect.objectContaining({ kind: 'order-rejected', clientOrderId: 'rc-never' })]);
  });

  it('a 418 without Retry-After during reconciliation: waits out the bounded ban, then asks again', async () => {
    peer = await startPeer('V1');
    await peer.client.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'rc-ban' },
      { markPrice: mark },
    );
    let banned = false;
    proxy = await startLossyProxy(peer.sim.restUrl, (r) => {
      if (r.method === 'GET' && r.path.endsWith('/order') && !banned) {
        banned = true;
        return { status: 418, body: { code: -1003, msg: 'Way too many requests; IP banned.' } };
      }
      return 'forward';
    });
    let t = Date.now();
    const waits: number[] = [];
    const client = new AsterRestClient({
      ...peer.clientOptions,
      baseUrl: proxy.url,
      now: () => t,
      banDefaultMs: 60_000,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    await client.syncTime();
    const out = await reconcileOrders(client, [{ order: order('rc-ban'), filled: 0 }], 0.00035, {
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    expect(out).toEqual([expect.objectContaining({ kind: 'fill', clientOrderId: 'rc-ban' })]);
    expect(waits).toContain(60_000);
  });
});
