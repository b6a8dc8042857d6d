import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bar, CancelOrder, Order } from '../../../pipelines/model/index.ts';
import type { VenueEvent, VenueRequest } from '../../../pipelines/ports.ts';
import { AsterUserStream, type UserStreamStatus } from '../../../live/aster/user-stream.ts';
import { asterExecutionPort, type ExecutionIssue } from '../../../live/aster/aster-execution-port.ts';
import { BTC, START, eventually, startPeer, type Peer } from './kit.ts';

/**
 * An operator's cancel-order through the Aster execution port reaches the exchange (the in-process
 * simulator over loopback) as a cancel by origClientOrderId; the exchange's CANCELED comes back
 * as an order-rejected event with the operator's reason.
 */

let peer: Peer | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
  await peer?.sim.close();
  peer = undefined;
});

async function portOn(p: Peer, onCancel?: (id: string, outcome: string) => void) {
  const c = p.client;
  const stream = new AsterUserStream({
    wsUrl: p.sim.wsUrl,
    rest: c,
    catchUp: c,
    symbols: ['BTCUSDT', 'ETHUSDT'],
    now: () => c.serverNow(),
  });
  cleanups.push(() => stream.stop());
  const status: UserStreamStatus[] = [];
  stream.status.subscribe((s) => status.push(s));
  const issues: ExecutionIssue[] = [];
  // the real client, with each cancel's outcome noted for the test
  const client = {
    newOrder: c.newOrder.bind(c),
    cancelOrder: (q: { symbol: string; origClientOrderId: string }) =>
      c.cancelOrder(q).then(
        (r) => (onCancel?.(q.origClientOrderId, 'cancelled'), r),
        (e: unknown) => {
          onCancel?.(q.origClientOrderId, String(e));
          throw e;
        },
      ),
  };
  const port = asterExecutionPort({ client, userEvents: stream.events, onIssue: (i) => issues.push(i) });
  const requests = new Subject<VenueRequest>();
  const bars = new Subject<Bar>();
  const out: (Bar | VenueEvent)[] = [];
  const sub = bars.pipe(port.attach(requests)).subscribe((e) => out.push(e));
  cleanups.push(() => sub.unsubscribe());
  await stream.start();
  await eventually(() => status.some((s) => s.kind === 'connected'));
  return { c, requests, out, issues };
}

const order = (o: Partial<Order> & Pick<Order, 'clientOrderId' | 'type' | 'side'>): Order => ({
  kind: 'order',
  time: Date.now(),
  symbol: 'BTCUSDT',
  quantity: 0,
  reduceOnly: true,
  stopPrice: 0,
  refPrice: BTC.close[START]!,
  maxSlippageBps: 0,
  reason: 'stop',
  ...o,
});

const cancel = (clientOrderId: string): CancelOrder => ({
  kind: 'cancel-order',
  time: Date.now(),
  symbol: 'BTCUSDT',
  clientOrderId,
  origin: 'operator',
  reason: `DELETE /orders/${clientOrderId}`,
});

const exchangeOrder = (p: Peer, id: string) => p.sim.state(p.account).orders.find((o) => o.clientOrderId === id);

describe('operator cancel through the Aster execution port (exchange simulator)', () => {
  it('a working order is cancelled at the exchange by origClientOrderId; CANCELED → order-rejected "cancelled by the operator"', async () => {
    peer = await startPeer('V1');
    const p = peer;
    const { c, requests, out, issues } = await portOn(p);
    // a position, so a resting closePosition stop is valid; its stop rests below the market
    await c.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'op-pos-1' },
      { markPrice: BTC.close[START]! },
    );
    const stopPrice = Math.floor(BTC.close[START]! * 0.9 * 10) / 10;
    requests.next(order({ clientOrderId: 'op-stop-1', type: 'STOP_MARKET', side: 'SELL', stopPrice }));
    await eventually(() => exchangeOrder(p, 'op-stop-1')?.status === 'NEW');

    requests.next(cancel('op-stop-1'));
    await eventually(() => exchangeOrder(p, 'op-stop-1')?.status === 'CANCELED');
    await eventually(() => out.some((e) => e.kind === 'order-rejected'));
    expect(out.filter((e) => e.kind === 'order-rejected')).toEqual([
      expect.objectContaining({ clientOrderId: 'op-stop-1', symbol: 'BTCUSDT', reason: 'cancelled by the operator' }),
    ]);
    // (the position opened by hand is a foreign fill to the port; no cancel failed)
    expect(issues.filter((i) => i.kind !== 'foreign-fill')).toEqual([]);
  });

  it('a cancel of an order that already filled changes nothing at the exchange and is reported as cancel-failed', async () => {
    peer = await startPeer('V1');
    const p = peer;
    const { requests, out, issues } = await portOn(p);
    requests.next(
      order({
        clientOrderId: 'op-mkt-1',
        type: 'MARKET',
        side: 'BUY',
        quantity: 0.002,
        reduceOnly: false,
        reason: 'entry',
      }),
    );
    await eventually(() => out.some((e) => e.kind === 'fill'));
    expect(exchangeOrder(p, 'op-mkt-1')?.status).toBe('FILLED');
    requests.next(cancel('op-mkt-1'));
    await eventually(() => issues.length > 0);
    expect(issues[0]).toMatchObject({ kind: 'cancel-failed', clientOrderId: 'op-mkt-1' });
    expect(issues[0]!.detail).toMatch(/^operator cancel: /);
    expect(exchangeOrder(p, 'op-mkt-1')?.status).toBe('FILLED');
    expect(out.some((e) => e.kind === 'order-rejected')).toBe(false);
  });

  it('a stop replaced after the exchange removed it (triggered, expired): its -2011 is no issue, nothing is left working', async () => {
    peer = await startPeer('V1');
    const p = peer;
    const cancels: [string, string][] = [];
    const { c, requests, issues } = await portOn(p, (id, outcome) => cancels.push([id, outcome]));
    await c.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: 'rp-pos-1' },
      { markPrice: BTC.close[START]! },
    );
    const stopPrice = Math.floor(BTC.close[START]! * 0.9 * 10) / 10;
    requests.next(order({ clientOrderId: 'rp-stop-1', type: 'STOP_MARKET', side: 'SELL', stopPrice }));
    await eventually(() => exchangeOrder(p, 'rp-stop-1')?.status === 'NEW');
    // gone at the exchange before the port replaces it
    await c.cancelOrder({ symbol: 'BTCUSDT', origClientOrderId: 'rp-stop-1' });
    requests.next(
      order({
        clientOrderId: 'rp-stop-2',
        type: 'STOP_MARKET',
        side: 'SELL',
        stopPrice: stopPrice + 10,
        time: Date.now(),
      }),
    );
    await eventually(() => cancels.some(([id]) => id === 'rp-stop-1'));
    expect(cancels.find(([id]) => id === 'rp-stop-1')![1]).toMatch(/code -2011/);
    expect(exchangeOrder(p, 'rp-stop-2')?.status).toBe('NEW');
    expect(issues.filter((i) => i.kind !== 'foreign-fill')).toEqual([]);
  });
});
