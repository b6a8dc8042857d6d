import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bar, Order } from '../../../pipelines/model/index.ts';
import type { VenueEvent } from '../../../pipelines/ports.ts';
import type { NewOrderRequest } from '../../../live/aster/order-precision.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterMarketStream, type StreamStatus } from '../../../live/aster/market-stream.ts';
import { AsterUserStream, type UserEvent, type UserStreamStatus } from '../../../live/aster/user-stream.ts';
import { asterExecutionPort } from '../../../live/aster/aster-execution-port.ts';
import { BTC, START, eventually, startPeer, type Peer } from './kit.ts';

/**
 * What happens while a socket is down is caught up as soon as it is back: fills and funding of the
 * user-data stream over REST (each once, across socket and REST), missed bars of the market
 * stream over REST klines before the next live bar.
 */

let peer: Peer | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
  await peer?.sim.close();
  peer = undefined;
});

const market = (id: string, side: 'BUY' | 'SELL' = 'BUY'): NewOrderRequest => ({
  symbol: 'BTCUSDT',
  side,
  type: 'MARKET',
  quantity: 0.002,
  newClientOrderId: id,
  newOrderRespType: 'RESULT',
});

/** the user stream with the REST catch-up, and the execution port on top of it */
async function userSide(p: Peer) {
  const c = p.client;
  const stream = new AsterUserStream({
    wsUrl: p.sim.wsUrl,
    rest: c,
    catchUp: c,
    symbols: ['BTCUSDT', 'ETHUSDT'],
    now: () => c.serverNow(),
    // long enough to act on the exchange while no socket is open
    backoffInitialMs: 400,
    backoffMaxMs: 400,
  });
  cleanups.push(() => stream.stop());
  const events: UserEvent[] = [];
  const status: UserStreamStatus[] = [];
  stream.events.subscribe((e) => events.push(e));
  stream.status.subscribe((s) => status.push(s));
  const port = asterExecutionPort({ client: c, userEvents: stream.events });
  const out: (Bar | VenueEvent)[] = [];
  const bars = new Subject<Bar>();
  const sub = bars.pipe(port.attach(new Subject<Order>())).subscribe((e) => out.push(e));
  cleanups.push(() => sub.unsubscribe());
  await stream.start();
  const connected = (): number => status.filter((s) => s.kind === 'connected').length;
  await eventually(() => connected() === 1);
  /** drops the socket, runs `whileDown` with no socket open, waits for the reconnect */
  const dropAround = async (whileDown: () => Promise<void> | void): Promise<void> => {
    const before = connected();
    p.sim.injectFault('drop-user-ws');
    await eventually(() => p.sim.state().userSockets === 0);
    await whileDown();
    expect(p.sim.state().userSockets).toBe(0); // it all happened while the socket was down
    await eventually(() => connected() === before + 1);
  };
  /** waits until `n` catch-ups have finished */
  const caughtUp = (n: number) => eventually(() => status.filter((s) => s.kind === 'caught-up').length === n);
  return { c, stream, events, status, out, dropAround, caughtUp };
}

const trades = (events: UserEvent[], id: string) =>
  events.filter((e) => e.kind === 'order-update' && e.executionType === 'TRADE' && e.clientOrderId === id);
const fills = (out: (Bar | VenueEvent)[], id: string) =>
  out.filter((e) => e.kind === 'fill' && (e as { clientOrderId: string }).clientOrderId === id);

describe('user-data catch-up after a dropped socket (simulator)', () => {
  it('a fill while the socket is down is emitted once after the reconnect; fills seen live are not repeated', async () => {
    peer = await startPeer('V1');
    const { c, events, out, dropAround, caughtUp } = await userSide(peer);
    await c.newOrder(market('live-1'), { markPrice: BTC.close[START]! });
    await eventually(() => fills(out, 'live-1').length === 1);

    await dropAround(async () => {
      await c.newOrder(market('down-1', 'SELL'), { markPrice: BTC.close[START]! });
    });
    await eventually(() => fills(out, 'down-1').length === 1);
    // a second drop: its catch-up window covers the same fills again — still once each
    await dropAround(() => undefined);
    await caughtUp(2);

    const exchange = peer.sim.state().fills;
    const down = exchange.filter(
      (f) => f.orderId === peer!.sim.state().orders.find((o) => o.clientOrderId === 'down-1')!.orderId,
    );
    expect(down.length).toBe(1);
    expect(trades(events, 'down-1')).toMatchObject([
      { tradeId: down[0]!.id, lastQty: 0.002, side: 'SELL', status: 'FILLED', cumQty: 0.002 },
    ]);
    expect(trades(events, 'live-1').length).toBe(1);
    expect(fills(out, 'live-1').length).toBe(1);
    expect(fills(out, 'down-1')).toMatchObject([{ quantity: 0.002, side: 'SELL', price: down[0]!.price }]);
    // every exchange fill reached the pipeline exactly once
    expect(out.filter((e) => e.kind === 'fill').length).toBe(exchange.length);
  });

  it('funding settled while the socket is down comes from /fapi/v1/income, once; funding seen live (bc) is not repeated', async () => {
    // a funding settlement every 2 bars of the replay
    peer = await startPeer('V1', { fundingIntervalMs: 600_000, fundingRate: 0.0001 });
    const { c, out, dropAround, caughtUp } = await userSide(peer);
    await c.newOrder(market('pos-1'), { markPrice: BTC.close[START]! });
    await eventually(() => fills(out, 'pos-1').length === 1);
    const funding = () => out.filter((e) => e.kind === 'funding') as { amount: number; symbol: string }[];

    peer.sim.advance(2); // one settlement, socket up: ACCOUNT_UPDATE FUNDING_FEE with its bc
    await eventually(() => funding().length === 1);
    const paidLive = peer.sim.state().fundingPaid;
    expect(funding()[0]!.amount).toBeCloseTo(paidLive, 8);

    await dropAround(() => {
      peer!.sim.advance(2); // a second settlement, nobody listening
    });
    await eventually(() => funding().length === 2);
    await caughtUp(1);
    const paidAll = peer.sim.state().fundingPaid;
    expect(funding().length).toBe(2);
    expect(funding()[1]).toMatchObject({ symbol: 'BTCUSDT' });
    expect(funding()[1]!.amount).toBeCloseTo(paidAll - paidLive, 8);
    expect(funding().reduce((a, f) => a + f.amount, 0)).toBeCloseTo(paidAll, 8);
  });
});

describe('user-data catch-up after a restart (simulator)', () => {
  it("a fill of the life before, which the journal holds, is not taken again by a reconnect's catch-up", async () => {
    peer = await startPeer('V1');
    const c = peer.client;
    // the life before: its fill reached the journal, then the process died
    await c.newOrder(market('earlier-1'), { markPrice: BTC.close[START]! });
    const stream = new AsterUserStream({
      wsUrl: peer.sim.wsUrl,
      rest: c,
      catchUp: c,
      symbols: ['BTCUSDT', 'ETHUSDT'],
      now: () => c.serverNow(),
      backoffInitialMs: 50,
      backoffMaxMs: 50,
    });
    cleanups.push(() => stream.stop());
    const events: UserEvent[] = [];
    const status: UserStreamStatus[] = [];
    stream.events.subscribe((e) => events.push(e));
    stream.status.subscribe((s) => status.push(s));
    // the restart: the journal holds the fill, so the restart's read returns nothing new
    const fresh = await stream.startCaughtUp(c.serverNow() - 60_000, new Map([['earlier-1', 0.002]]));
    expect(fresh).toEqual([]);
    // a drop seconds later: the reconnect's catch-up window reaches back before this start
    peer.sim.injectFault('drop-user-ws');
    await eventually(() => status.filter((s) => s.kind === 'connected').length === 2);
    await eventually(() => status.filter((s) => s.kind === 'caught-up').length === 2);
    expect(trades(events, 'earlier-1')).toEqual([]);
  });
});

describe('user-data catch-up: orders that ended while the socket was down (simulator)', () => {
  it('a protective stop cancelled while the socket is down reaches the pipeline after the reconnect', async () => {
    peer = await startPeer('V1');
    const c = peer.client;
    const stream = new AsterUserStream({
      wsUrl: peer.sim.wsUrl,
      rest: c,
      catchUp: c,
      symbols: ['BTCUSDT'],
      now: () => c.serverNow(),
      backoffInitialMs: 400,
      backoffMaxMs: 400,
    });
    cleanups.push(() => stream.stop());
    const status: UserStreamStatus[] = [];
    stream.status.subscribe((s) => status.push(s));
    const port = asterExecutionPort({ client: c, userEvents: stream.events });
    const out: (Bar | VenueEvent)[] = [];
    const bars = new Subject<Bar>();
    const orders = new Subject<Order>();
    const sub = bars.pipe(port.attach(orders)).subscribe((e) => out.push(e));
    cleanups.push(() => sub.unsubscribe());
    await stream.start();
    await eventually(() => status.some((s) => s.kind === 'connected'));
    const close = BTC.close[START]!;
    const base = { kind: 'order', time: BTC.openTime[START]! + 300_000, symbol: 'BTCUSDT', refPrice: close } as const;
    orders.next({
      ...base,
      clientOrderId: 'pos',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.002,
      reduceOnly: false,
      stopPrice: 0,
      maxSlippageBps: 0,
      reason: 'entry',
    });
    await eventually(() => fills(out, 'pos').length === 1);
    // far below the market: it rests
    orders.next({
      ...base,
      clientOrderId: 'stop',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: 0,
      reduceOnly: true,
      stopPrice: Math.round(close * 0.5),
      maxSlippageBps: 0,
      reason: 'stop',
    });
    await eventually(() => peer!.sim.state().openOrders.some((o) => o.clientOrderId === 'stop'));

    peer.sim.injectFault('drop-user-ws');
    await eventually(() => peer!.sim.state().userSockets === 0);
    await c.cancelOrder({ symbol: 'BTCUSDT', origClientOrderId: 'stop' });
    expect(peer.sim.state().userSockets).toBe(0);
    await eventually(() => status.filter((s) => s.kind === 'connected').length === 2);
    await eventually(() => out.some((e) => e.kind === 'order-rejected'));
    expect(out.filter((e) => e.kind === 'order-rejected')).toMatchObject([
      { clientOrderId: 'stop', reason: 'CANCELED/CANCELED by the exchange' },
    ]);
  });
});

describe('market gap fill on reconnect (simulator)', () => {
  it('bars that closed while the socket was down arrive right after it is back, before the next live bar', async () => {
    peer = await startPeer('V1');
    const c = new AsterRestClient({ baseUrl: peer.sim.restUrl });
    const stream = new AsterMarketStream({
      wsUrl: peer.sim.wsUrl,
      symbols: ['BTCUSDT'],
      interval: '5m',
      klines: (q) => c.klines(q),
      backoffInitialMs: 300,
      backoffMaxMs: 300,
    });
    cleanups.push(() => stream.stop());
    const bars: { bar: Bar; at: number }[] = [];
    const status: { s: StreamStatus; at: number }[] = [];
    stream.bars.subscribe((bar) => bars.push({ bar, at: Date.now() }));
    stream.status.subscribe((s) => status.push({ s, at: Date.now() }));
    stream.seed('BTCUSDT', BTC.openTime[START]!);
    stream.start();
    await eventually(() => peer!.sim.state().marketSockets === 1);
    peer.sim.advance(1);
    await eventually(() => bars.length === 1);

    peer.sim.injectFault('drop-market-ws');
    await eventually(() => peer!.sim.state().marketSockets === 0);
    peer.sim.advance(3); // three bar closes with no socket
    expect(peer.sim.state().marketSockets).toBe(0);
    await eventually(() => status.filter((x) => x.s.kind === 'connected').length === 2);
    const back = status.filter((x) => x.s.kind === 'connected')[1]!.at;
    // no live bar comes until the next advance: the missed ones must come from REST on open
    await eventually(() => bars.length === 4, 40, 25);
    const lag = Math.max(...bars.slice(1).map((b) => b.at - back));
    expect(lag).toBeLessThan(1000); // bounded; the bar cadence here is "never" until advance()

    peer.sim.advance(1);
    await eventually(() => bars.length === 5);
    expect(bars.map((b) => b.bar.openTime)).toEqual(Array.from(BTC.openTime.subarray(START + 1, START + 6)));
    expect(bars.map((b) => b.bar.close)).toEqual(Array.from(BTC.close.subarray(START + 1, START + 6)));
  });
});
