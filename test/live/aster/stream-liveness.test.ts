import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { asterExecutionPort } from '../../../live/aster/aster-execution-port.ts';
import { AsterMarketStream, type StreamStatus } from '../../../live/aster/market-stream.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterUserStream, type UserEvent, type UserStreamStatus } from '../../../live/aster/user-stream.ts';
import type { Bar, Order } from '../../../pipelines/model/index.ts';
import type { VenueEvent } from '../../../pipelines/ports.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { RestPeer } from './kit/rest-peer.ts';
import { orderTradeUpdate } from './kit/user-frames.ts';
import { WsPeer, waitFor } from './kit/ws-peer.ts';

/**
 * Loopback peers that go quiet, stay up for a day, or report funding without its amount: the
 * streams reconnect within their silence bound, roll over before the 24 h cut on the same
 * listenKey, and read funding from the income ledger when `bc` is "0".
 */

const BTC = fixtureBars('BTCUSDT');
const HMAC = { kind: 'hmac' as const, apiKey: 'k'.repeat(64), secretKey: 's'.repeat(64) };
const SILENCE = 300;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function userPeer() {
  const rest = await new RestPeer().start();
  const ws = await new WsPeer().start();
  cleanups.push(
    () => rest.stop(),
    () => ws.stop(),
  );
  let n = 0;
  rest
    .on('POST', '/fapi/v1/listenKey', () => ({ body: { listenKey: `key${++n}` } }))
    .on('PUT', '/fapi/v1/listenKey', () => ({ body: {} }))
    .on('DELETE', '/fapi/v1/listenKey', () => ({ body: {} }));
  return { rest, ws, client: new AsterRestClient({ baseUrl: rest.url, credentials: HMAC }) };
}

function connectedTimes<T extends { kind: string }>(status: { s: T; at: number }[]): number[] {
  return status.filter((x) => x.s.kind === 'connected').map((x) => x.at);
}

describe('user-data stream liveness', () => {
  it('a socket that stays open but sends nothing (no data, no ping) is replaced within silenceMs', async () => {
    const { ws, client } = await userPeer();
    const stream = new AsterUserStream({ wsUrl: ws.url, rest: client, silenceMs: SILENCE, backoffInitialMs: 20 });
    cleanups.push(() => stream.stop());
    const status: { s: UserStreamStatus; at: number }[] = [];
    stream.status.subscribe((s) => status.push({ s, at: Date.now() }));
    await stream.start();
    await ws.waitConnections(2, 3000);
    await waitFor(() => connectedTimes(status).length === 2);
    const [first, second] = connectedTimes(status);
    expect(status.map((x) => x.s.kind)).toContain('silent');
    // replaced after the bound (not before), and within it plus the back-off and a margin
    expect(second! - first!).toBeGreaterThanOrEqual(SILENCE - 5);
    expect(second! - first!).toBeLessThan(SILENCE + 700);
    expect(ws.connections[0]!.socket.readyState).toBeGreaterThan(1); // the silent one is closed
  });

  it('pings from the exchange count as life: a quiet account is not reconnected', async () => {
    const { ws, client } = await userPeer();
    const stream = new AsterUserStream({ wsUrl: ws.url, rest: client, silenceMs: SILENCE, backoffInitialMs: 20 });
    cleanups.push(() => stream.stop());
    await stream.start();
    await ws.waitConnections(1);
    for (let i = 0; i < 8; i++) {
      ws.last.socket.ping();
      // time passing is the scenario: 8 pings spread over more than two silence windows
      await new Promise((r) => setTimeout(r, SILENCE / 3));
    }
    expect(ws.connections.length).toBe(1);
  });

  it('rolls over before the 24 h cut: a fresh socket on the same listenKey, then the old one closes', async () => {
    const { ws, rest, client } = await userPeer();
    const stream = new AsterUserStream({ wsUrl: ws.url, rest: client, rolloverMs: 200, silenceMs: 60_000 });
    cleanups.push(() => stream.stop());
    const status: UserStreamStatus[] = [];
    const events: unknown[] = [];
    stream.status.subscribe((s) => status.push(s));
    stream.events.subscribe((e) => events.push(e));
    await stream.start();
    await ws.waitConnections(2, 3000);
    await waitFor(() => status.some((s) => s.kind === 'connected' && s.rollover === true));
    expect(ws.connections.map((c) => c.url).slice(0, 2)).toEqual(['/ws/key1', '/ws/key1']);
    expect(rest.count('POST', '/fapi/v1/listenKey')).toBe(1);
    await waitFor(() => ws.connections[0]!.socket.readyState > 1);
    // the new socket carries the events
    ws.send(
      orderTradeUpdate({
        bar: BTC[1]!,
        clientOrderId: 'r1',
        side: 'BUY',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: BTC[1]!.close,
      }),
      ws.connections[1]!.socket,
    );
    await waitFor(() => events.length === 1);
  });
});

describe('user-data catch-up dedupe (loopback)', () => {
  it('a fill read back over REST is not emitted again when the socket delivers it late', async () => {
    const { ws, rest, client } = await userPeer();
    const bar = BTC[7]!;
    const t = bar.time + 1000;
    rest
      .on('GET', '/fapi/v1/openOrders', () => ({ body: [] }))
      .on('GET', '/fapi/v1/income', () => ({ body: [] }))
      .on('GET', '/fapi/v1/allOrders', () => ({
        body: [
          {
            orderId: 8886774,
            symbol: 'BTCUSDT',
            status: 'FILLED',
            clientOrderId: 'late-1',
            price: '0',
            avgPrice: String(bar.close),
            origQty: '0.002',
            executedQty: '0.002',
            type: 'MARKET',
            side: 'BUY',
            time: t,
            updateTime: t,
          },
        ],
      }))
      .on('GET', '/fapi/v1/userTrades', () => ({
        body: [
          {
            id: 42,
            orderId: 8886774,
            symbol: 'BTCUSDT',
            side: 'BUY',
            price: String(bar.close),
            qty: '0.002',
            commission: '0.07',
            commissionAsset: 'USDT',
            maker: false,
            realizedPnl: '0',
            positionSide: 'BOTH',
            time: t,
          },
        ],
      }));
    const user = new AsterUserStream({
      wsUrl: ws.url,
      rest: client,
      catchUp: client,
      symbols: ['BTCUSDT'],
      now: () => t - 60_000,
      backoffInitialMs: 20,
    });
    cleanups.push(() => user.stop());
    const events: UserEvent[] = [];
    user.events.subscribe((e) => events.push(e));
    await user.start();
    await ws.waitConnections(1);
    ws.last.socket.terminate();
    await ws.waitConnections(2);
    await waitFor(() => events.length === 1);
    await user.drain();
    expect(events[0]).toMatchObject({
      kind: 'order-update',
      clientOrderId: 'late-1',
      tradeId: 42,
      lastQty: 0.002,
      cumQty: 0.002,
      status: 'FILLED',
      commission: 0.07,
    });
    // the same trade (t 42) arrives over the new socket after the catch-up
    ws.send(
      orderTradeUpdate({
        bar,
        clientOrderId: 'late-1',
        side: 'BUY',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: bar.close,
        commission: 0.07,
        tradeTime: t,
      }),
    );
    ws.send({ e: 'ACCOUNT_CONFIG_UPDATE', E: t + 5 }); // a later frame: the trade frame was handled before it
    await waitFor(() => events.length === 2);
    expect(events.map((e) => e.kind)).toEqual(['order-update', 'other']);
  });
});

describe('market stream liveness', () => {
  it('a socket that stays open but sends nothing is replaced within silenceMs', async () => {
    const ws = await new WsPeer().start();
    cleanups.push(() => ws.stop());
    const stream = new AsterMarketStream({
      wsUrl: ws.url,
      symbols: ['BTCUSDT'],
      interval: '5m',
      silenceMs: SILENCE,
      backoffInitialMs: 20,
    });
    cleanups.push(() => stream.stop());
    const status: { s: StreamStatus; at: number }[] = [];
    stream.status.subscribe((s) => status.push({ s, at: Date.now() }));
    stream.start();
    await ws.waitConnections(2, 3000);
    await waitFor(() => connectedTimes(status).length === 2);
    const [first, second] = connectedTimes(status);
    expect(status.map((x) => x.s.kind)).toContain('silent');
    expect(second! - first!).toBeGreaterThanOrEqual(SILENCE - 5);
    expect(second! - first!).toBeLessThan(SILENCE + 700);
  });
});

describe('funding with bc "0"', () => {
  it('ACCOUNT_UPDATE FUNDING_FEE without a balance change: the amount is read from /fapi/v1/income, once', async () => {
    const { ws, rest, client } = await userPeer();
    const bar = BTC[5]!;
    const rate = 0.0001; // Aster's base interest component per 8 h (reference §5)
    const paid = rate * 0.002 * bar.close;
    const fundingTime = bar.time + 60_000;
    rest.on('GET', '/fapi/v1/income', (r) => ({
      body:
        r.params.incomeType === 'FUNDING_FEE' && Number(r.params.startTime) <= fundingTime
          ? [
              {
                symbol: 'BTCUSDT',
                incomeType: 'FUNDING_FEE',
                income: (-paid).toFixed(8),
                asset: 'USDT',
                info: '',
                time: fundingTime,
                tranId: 77001,
                tradeId: '',
              },
            ]
          : [],
    }));
    rest.on('GET', '/fapi/v1/openOrders', () => ({ body: [] }));
    const user = new AsterUserStream({ wsUrl: ws.url, rest: client, catchUp: client, now: () => bar.time });
    cleanups.push(() => user.stop());
    const port = asterExecutionPort({ client, userEvents: user.events });
    const out: (Bar | VenueEvent)[] = [];
    const bars = new Subject<Bar>();
    const sub = bars.pipe(port.attach(new Subject<Order>())).subscribe((e) => out.push(e));
    cleanups.push(() => sub.unsubscribe());
    await user.start();
    await ws.waitConnections(1);
    bars.next(bar);
    ws.send(
      orderTradeUpdate({
        bar,
        clientOrderId: 'x-1',
        side: 'BUY',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: bar.close,
      }),
    );
    const frame = {
      e: 'ACCOUNT_UPDATE',
      E: fundingTime,
      T: fundingTime,
      a: { m: 'FUNDING_FEE', B: [{ a: 'USDT', wb: '1000', cw: '1000', bc: '0' }], P: [] },
    };
    ws.send(frame);
    ws.send(frame); // the same settlement told twice
    await waitFor(() => out.some((e) => e.kind === 'funding'));
    await user.drain();
    await new Promise((r) => setTimeout(r, 50)); // a fixed wait on purpose: proves the repeat is not told late
    const funding = out.filter((e) => e.kind === 'funding') as {
      amount: number;
      symbol: string;
      positionQty: number;
    }[];
    expect(funding.length).toBe(1);
    expect(funding[0]).toMatchObject({ symbol: 'BTCUSDT', positionQty: 0.002 });
    expect(funding[0]!.amount).toBeCloseTo(paid, 8);
  });
});
