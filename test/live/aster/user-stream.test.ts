import { afterEach, describe, expect, it } from 'vitest';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import type { Timers } from '../../../pipelines/ports.ts';
import {
  AsterUserStream,
  parseUserEvent,
  type UserEvent,
  type UserStreamStatus,
} from '../../../live/aster/user-stream.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { RestPeer } from './kit/rest-peer.ts';
import { orderTradeUpdate } from './kit/user-frames.ts';
import { WsPeer, waitFor } from './kit/ws-peer.ts';

const BTC = fixtureBars('BTCUSDT');
const KEEP = 1_800_000;
const HMAC = { kind: 'hmac' as const, apiKey: 'k'.repeat(64), secretKey: 's'.repeat(64) };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(opts: { keepAliveFails?: boolean } = {}) {
  const rest = await new RestPeer().start();
  const ws = await new WsPeer().start();
  cleanups.push(
    () => rest.stop(),
    () => ws.stop(),
  );
  let n = 0;
  rest
    .on('POST', '/fapi/v1/listenKey', () => ({ body: { listenKey: `key${++n}` } }))
    .on('PUT', '/fapi/v1/listenKey', () =>
      opts.keepAliveFails
        ? { status: 400, body: { code: -1125, msg: 'This listenKey does not exist.' } }
        : { body: {} },
    )
    .on('DELETE', '/fapi/v1/listenKey', () => ({ body: {} }));
  const keepAlives: (() => void)[] = [];
  const delays: number[] = [];
  const scheduler: Timers = {
    setTimeout: (fn, ms) => {
      delays.push(ms);
      if (ms === KEEP) {
        keepAlives.push(fn);
        return null;
      }
      if (ms >= 600_000) return null; // silence watchdog and rollover: their own tests
      return setTimeout(fn, Math.min(ms, 5));
    },
    clearTimeout: (h) => {
      if (h !== null) clearTimeout(h as ReturnType<typeof setTimeout>);
    },
  };
  const client = new AsterRestClient({ baseUrl: rest.url, credentials: HMAC });
  const stream = new AsterUserStream({ wsUrl: ws.url, rest: client, scheduler, backoffInitialMs: 50 });
  const events: UserEvent[] = [];
  const status: UserStreamStatus[] = [];
  stream.events.subscribe((e) => events.push(e));
  stream.status.subscribe((s) => status.push(s));
  cleanups.push(() => stream.stop());
  await stream.start();
  await ws.waitConnections(1);
  await waitFor(() => status.some((s) => s.kind === 'connected'));
  return { rest, ws, stream, events, status, keepAlives, delays };
}

describe('parseUserEvent', () => {
  it('maps ORDER_TRADE_UPDATE and ACCOUNT_UPDATE to typed events with numbers', () => {
    const bar = BTC[10]!;
    const r = parseUserEvent(
      JSON.stringify(
        orderTradeUpdate({
          bar,
          clientOrderId: 'c1',
          side: 'BUY',
          qty: 0.002,
          lastQty: 0.002,
          cumQty: 0.002,
          price: bar.close,
          commission: 0.0717,
        }),
      ),
    );
    expect(r).toMatchObject({
      ok: true,
      event: {
        kind: 'order-update',
        symbol: 'BTCUSDT',
        clientOrderId: 'c1',
        executionType: 'TRADE',
        status: 'FILLED',
        lastQty: 0.002,
        lastPrice: bar.close,
        commission: 0.0717,
        commissionAsset: 'USDT',
        isMaker: false,
      },
    });
    const a = parseUserEvent(
      JSON.stringify({
        e: 'ACCOUNT_UPDATE',
        E: bar.time,
        T: bar.time,
        a: {
          m: 'ORDER',
          B: [{ a: 'USDT', wb: '1000.5', cw: '1000.5', bc: '0' }],
          P: [{ s: 'BTCUSDT', pa: '0.002', ep: String(bar.close), cr: '0', up: '0', mt: 'cross', iw: '0', ps: 'BOTH' }],
        },
      }),
    );
    expect(a).toMatchObject({
      ok: true,
      event: {
        kind: 'account-update',
        reason: 'ORDER',
        balances: [{ asset: 'USDT', walletBalance: 1000.5 }],
        positions: [{ symbol: 'BTCUSDT', positionAmt: 0.002, entryPrice: bar.close }],
      },
    });
  });

  it('malformed frames are reported, never zeros', () => {
    expect(parseUserEvent('not json')).toEqual({ ok: false, detail: 'frame is not JSON' });
    const bad = parseUserEvent(JSON.stringify({ e: 'ORDER_TRADE_UPDATE', E: 1, o: { s: 'BTCUSDT', l: '' } }));
    expect(bad.ok).toBe(false);
  });
});

describe('AsterUserStream', () => {
  it('creates a listenKey, connects to /ws/<key> and emits typed events; malformed frames go to status with raw text', async () => {
    const { ws, events, status } = await setup();
    expect(ws.last.url).toBe('/ws/key1');
    const bar = BTC[3]!;
    ws.send(
      orderTradeUpdate({
        bar,
        clientOrderId: 'c9',
        side: 'SELL',
        qty: 0.01,
        lastQty: 0.004,
        cumQty: 0.004,
        price: bar.open,
      }),
    );
    ws.send({ e: 'ACCOUNT_UPDATE', E: 5 });
    await waitFor(() => events.length === 1 && status.some((s) => s.kind === 'error'));
    expect(events[0]).toMatchObject({ kind: 'order-update', status: 'PARTIALLY_FILLED', lastQty: 0.004 });
    expect(status.find((s) => s.kind === 'error')).toMatchObject({ raw: '{"e":"ACCOUNT_UPDATE","E":5}' });
  });

  it('keeps the listenKey alive every 30 min on the injected scheduler', async () => {
    const { rest, keepAlives, status } = await setup();
    expect(keepAlives.length).toBe(1);
    keepAlives[0]!();
    await waitFor(() => status.some((s) => s.kind === 'keep-alive'));
    expect(rest.count('PUT', '/fapi/v1/listenKey')).toBe(1);
    expect(keepAlives.length).toBe(2); // re-armed
    keepAlives[1]!();
    await waitFor(() => rest.count('PUT', '/fapi/v1/listenKey') === 2);
  });

  it('listenKeyExpired → a new listenKey and a new connection', async () => {
    const { ws, rest, events, status } = await setup();
    ws.send({ e: 'listenKeyExpired', E: BTC[0]!.time });
    await ws.waitConnections(2);
    expect(ws.last.url).toBe('/ws/key2');
    expect(rest.count('POST', '/fapi/v1/listenKey')).toBe(2);
    expect(events).toContainEqual({ kind: 'listen-key-expired', eventTime: BTC[0]!.time });
    await waitFor(() => status.some((s) => s.kind === 'connected' && s.listenKeyRenewed));
  });

  it('a failed keep-alive re-creates the key and reconnects', async () => {
    const { ws, keepAlives, status } = await setup({ keepAliveFails: true });
    keepAlives[0]!();
    await ws.waitConnections(2);
    expect(status).toContainEqual({ kind: 'keep-alive', ok: false });
    expect(ws.last.url).toBe('/ws/key2');
  });

  it('reconnects with back-off when the socket drops', async () => {
    const { ws, status } = await setup();
    ws.last.socket.terminate();
    await ws.waitConnections(2);
    expect(status.find((s) => s.kind === 'disconnected')).toMatchObject({ retryInMs: 50 });
  });

  it('stop closes the listenKey', async () => {
    const { rest, stream } = await setup();
    await stream.stop();
    expect(rest.count('DELETE', '/fapi/v1/listenKey')).toBe(1);
  });
});
