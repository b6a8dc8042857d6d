import { afterEach, describe, expect, it } from 'vitest';
import type { NewOrderRequest } from '../../../live/aster/order-precision.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { BTC, START, exchangeClientIds, startPeer, type Peer, type Version } from './kit.ts';
import { startLossyProxy, type LossyProxy, type ProxiedRequest } from './lossy-proxy.ts';

/**
 * An order whose outcome is unknown (the send's response was lost) while the exchange has not yet
 * indexed it (the first lookup by client order id misses): the client must not read one miss as
 * "absent" and send again. Real matching (the simulator) behind a loopback proxy that loses the
 * first order response and answers the first lookup with -2013 in the exchange's place.
 */

let peer: Peer | undefined;
let proxy: LossyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await peer?.sim.close();
  proxy = undefined;
  peer = undefined;
});

const NO_SUCH_ORDER = { status: 400, body: { code: -2013, msg: 'Order does not exist.' } };
const isSend = (r: ProxiedRequest) => r.method === 'POST' && /\/order$/.test(r.path);
const isLookup = (r: ProxiedRequest) => r.method === 'GET' && /\/order$/.test(r.path);

/** loses the first order response and misses the first `misses` lookups */
async function lossyClient(version: Version, misses = 1): Promise<AsterRestClient> {
  peer = await startPeer(version);
  let dropped = false;
  let missed = 0;
  proxy = await startLossyProxy(peer.sim.restUrl, (r) => {
    if (isSend(r) && !dropped) {
      dropped = true;
      return 'drop-response';
    }
    if (isLookup(r) && missed < misses) {
      missed++;
      return NO_SUCH_ORDER;
    }
    return 'forward';
  });
  return new AsterRestClient({
    ...peer.clientOptions,
    baseUrl: proxy.url,
    absentLookups: 3,
    absentLookupSpacingMs: 100,
  });
}

const mark = BTC.close[START]!;

describe.each<Version>(['V1', 'V3'])('unknown outcome, order not yet indexed (%s signing)', (version) => {
  it('MARKET: lost response + first lookup misses → found on a later lookup, executed once (+0.01, not +0.02)', async () => {
    const c = await lossyClient(version);
    const req: NewOrderRequest = {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
      newClientOrderId: 'lost-mkt',
      newOrderRespType: 'RESULT',
    };
    const r = await c.newOrder(req, { markPrice: mark });
    expect(r).toMatchObject({ status: 'accepted', recovered: true, order: { clientOrderId: 'lost-mkt' } });
    expect(exchangeClientIds(peer!)).toEqual(['lost-mkt']);
    const pos = peer!.sim.state(peer!.account).positions.find((p) => p.symbol === 'BTCUSDT');
    expect(pos?.amount).toBeCloseTo(0.01, 12);
    // exactly one order send reached the exchange
    expect(proxy!.log.filter((l) => l.method === 'POST' && l.path.endsWith('/order'))).toHaveLength(1);
  });

  it('LIMIT: lost response + first lookup misses → reported accepted and resting, one order on the book', async () => {
    const c = await lossyClient(version);
    const price = Math.round(mark * 0.99); // below the market: it rests
    const r = await c.newOrder(
      {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: 0.01,
        price,
        newClientOrderId: 'lost-lmt',
      },
      { markPrice: mark },
    );
    expect(r).toMatchObject({ status: 'accepted', order: { clientOrderId: 'lost-lmt', status: 'NEW' } });
    const state = peer!.sim.state(peer!.account);
    expect(state.openOrders.map((o) => o.clientOrderId)).toEqual(['lost-lmt']);
    expect(exchangeClientIds(peer!)).toEqual(['lost-lmt']);
  });

  it('a duplicate-id answer (-4116) on a re-send means "it exists": the fetched order is the answer', async () => {
    // every lookup misses until the exchange itself has refused the re-send as a duplicate
    peer = await startPeer(version);
    let dropped = false;
    let refusedDuplicate = false;
    proxy = await startLossyProxy(peer.sim.restUrl, (r) => {
      if (isSend(r) && !dropped) {
        dropped = true;
        return 'drop-response';
      }
      if (isSend(r)) refusedDuplicate = true; // the simulator answers -4116 to this one
      if (isLookup(r) && !refusedDuplicate) return NO_SUCH_ORDER;
      return 'forward';
    });
    const c = new AsterRestClient({
      ...peer.clientOptions,
      baseUrl: proxy.url,
      absentLookups: 2,
      absentLookupSpacingMs: 50,
    });
    const r = await c.newOrder(
      {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: 0.01,
        price: Math.round(mark * 0.99),
        newClientOrderId: 'dup-lmt',
      },
      { markPrice: mark },
    );
    expect(refusedDuplicate).toBe(true);
    expect(r).toMatchObject({
      status: 'accepted',
      recovered: true,
      order: { clientOrderId: 'dup-lmt', status: 'NEW' },
    });
    // the re-send used the same client order id, and the book holds one order
    expect(exchangeClientIds(peer)).toEqual(['dup-lmt']);
    expect(peer.sim.state(peer.account).openOrders).toHaveLength(1);
  });

  it('spaced lookups: absence is declared only after absentLookups misses over the window, then one re-send', async () => {
    // the first send never reached the exchange (answered here with a dropped connection)
    peer = await startPeer(version);
    let first = true;
    const lookups: number[] = [];
    proxy = await startLossyProxy(peer.sim.restUrl, (r) => {
      if (isSend(r) && first) {
        first = false;
        return { status: 503, body: { code: -1007, msg: 'Timeout waiting for response from backend server.' } };
      }
      if (isLookup(r)) lookups.push(Date.now());
      return 'forward';
    });
    const c = new AsterRestClient({
      ...peer.clientOptions,
      baseUrl: proxy.url,
      absentLookups: 3,
      absentLookupSpacingMs: 150,
    });
    const r = await c.newOrder(
      {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: 0.01,
        newClientOrderId: 'gone-mkt',
        newOrderRespType: 'RESULT',
      },
      { markPrice: mark },
    );
    expect(r).toMatchObject({ status: 'accepted', recovered: true });
    expect(lookups).toHaveLength(3);
    expect(lookups.at(-1)! - lookups[0]!).toBeGreaterThanOrEqual(2 * 150 - 20);
    expect(exchangeClientIds(peer)).toEqual(['gone-mkt']);
    const sends = proxy.log.filter((l) => l.method === 'POST' && l.path.endsWith('/order'));
    // the re-send carries the same client order id
    expect(sends.map((l) => l.clientOrderId)).toEqual(['gone-mkt', 'gone-mkt']);
  });

  it('maybeSent (a fresh process re-sending an intent): looks the id up first and never executes it twice', async () => {
    peer = await startPeer(version, {}, { absentLookupSpacingMs: 50 });
    const req: NewOrderRequest = {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
      newClientOrderId: 'again-mkt',
      newOrderRespType: 'RESULT',
    };
    expect((await peer.client.newOrder(req, { markPrice: mark })).status).toBe('accepted');
    // another client (a restarted process) knows nothing of the first send
    const fresh = new AsterRestClient({ ...peer.clientOptions, absentLookupSpacingMs: 50 });
    const r = await fresh.newOrder(req, { markPrice: mark, maybeSent: true });
    expect(r).toMatchObject({ status: 'accepted', recovered: true, order: { clientOrderId: 'again-mkt' } });
    expect(exchangeClientIds(peer)).toEqual(['again-mkt']);
    // and one the exchange never saw is sent after the spaced lookups
    const other = await fresh.newOrder({ ...req, newClientOrderId: 'first-mkt' }, { markPrice: mark, maybeSent: true });
    expect(other).toMatchObject({ status: 'accepted', recovered: false });
    expect(exchangeClientIds(peer).sort()).toEqual(['again-mkt', 'first-mkt']);
  });
});
