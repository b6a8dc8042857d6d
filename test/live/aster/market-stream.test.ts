import { afterEach, describe, expect, it } from 'vitest';
import { AsterMarketStream, type MarketTick, type StreamStatus } from '../../../live/aster/market-stream.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import type { Timers } from '../../../pipelines/ports.ts';
import type { Bar } from '../../../pipelines/model/index.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { RestPeer } from './kit/rest-peer.ts';
import { WsPeer, klineFrame, klineRows, waitFor } from './kit/ws-peer.ts';

const BTC = fixtureBars('BTCUSDT');
const ETH = fixtureBars('ETHUSDT');
const ROLLOVER = 82_800_000;
const SILENCE = 600_000;

/** real timers shortened to a few ms, with every requested delay recorded; rollover is fired by hand */
function testScheduler() {
  const delays: number[] = [];
  const rollovers: (() => void)[] = [];
  const s: Timers = {
    setTimeout: (fn, ms) => {
      delays.push(ms);
      if (ms === ROLLOVER) {
        rollovers.push(fn);
        return null;
      }
      if (ms === SILENCE) return null; // the liveness watchdog has its own test
      return setTimeout(fn, Math.min(ms, 5));
    },
    clearTimeout: (h) => {
      if (h !== null) clearTimeout(h as ReturnType<typeof setTimeout>);
    },
  };
  return { s, delays, rollovers };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(opts: { rest?: RestPeer } = {}) {
  const ws = await new WsPeer().start();
  cleanups.push(() => ws.stop());
  const sched = testScheduler();
  const client = opts.rest ? new AsterRestClient({ baseUrl: opts.rest.url }) : undefined;
  const stream = new AsterMarketStream({
    wsUrl: ws.url,
    symbols: ['BTCUSDT', 'ETHUSDT'],
    interval: '5m',
    markPrice: true,
    bookTicker: true,
    aggTrade: true,
    klines: client ? (q) => client.klines(q) : undefined,
    scheduler: sched.s,
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    rolloverMs: ROLLOVER,
  });
  cleanups.push(() => stream.stop());
  const bars: Bar[] = [];
  const ticks: MarketTick[] = [];
  const status: StreamStatus[] = [];
  stream.bars.subscribe((b) => bars.push(b));
  stream.ticks.subscribe((t) => ticks.push(t));
  stream.status.subscribe((s) => status.push(s));
  stream.start();
  await ws.waitConnections(1);
  await waitFor(() => status.some((x) => x.kind === 'connected'));
  return { ws, stream, bars, ticks, status, sched };
}

describe('AsterMarketStream', () => {
  it('subscribes the combined streams and emits only closed klines as Bars', async () => {
    const { ws, bars } = await setup();
    expect(ws.last.url).toBe(
      '/stream?streams=btcusdt@kline_5m/btcusdt@markPrice/btcusdt@bookTicker/btcusdt@aggTrade/ethusdt@kline_5m/ethusdt@markPrice/ethusdt@bookTicker/ethusdt@aggTrade',
    );
    ws.send(klineFrame(BTC[0]!, false));
    ws.send(klineFrame(BTC[0]!, true));
    ws.send(klineFrame(ETH[0]!, true));
    ws.send(klineFrame(BTC[0]!, true)); // duplicate
    await waitFor(() => bars.length >= 2);
    await new Promise((r) => setTimeout(r, 20)); // a fixed wait on purpose: proves the duplicate is not delivered late
    expect(bars).toEqual([BTC[0], ETH[0]]);
  });

  it('parses markPrice, bookTicker and aggTrade payloads; a malformed frame is an error event with the raw text', async () => {
    const { ws, ticks, status } = await setup();
    const b = BTC[0]!;
    ws.send({
      stream: 'btcusdt@markPrice',
      data: {
        e: 'markPriceUpdate',
        E: b.time,
        s: 'BTCUSDT',
        p: String(b.close),
        i: String(b.close),
        r: '0.0001',
        T: 1738051200000,
      },
    });
    ws.send({
      stream: 'btcusdt@bookTicker',
      data: {
        e: 'bookTicker',
        u: 1,
        E: b.time,
        T: b.time,
        s: 'BTCUSDT',
        b: String(b.low),
        B: '1',
        a: String(b.high),
        A: '2',
      },
    });
    ws.send({
      stream: 'btcusdt@aggTrade',
      data: {
        e: 'aggTrade',
        E: b.time,
        s: 'BTCUSDT',
        a: 1,
        p: String(b.open),
        q: '0.5',
        f: 1,
        l: 2,
        T: b.openTime,
        m: true,
      },
    });
    ws.send({ stream: 'btcusdt@markPrice', data: { e: 'markPriceUpdate', E: b.time, s: 'BTCUSDT' } });
    await waitFor(() => ticks.length >= 3 && status.some((s) => s.kind === 'error'));
    expect(ticks[0]).toEqual({
      kind: 'mark-price',
      time: b.time,
      symbol: 'BTCUSDT',
      markPrice: b.close,
      indexPrice: b.close,
      fundingRate: 0.0001,
      nextFundingTime: 1738051200000,
    });
    expect(ticks[1]).toMatchObject({ kind: 'book-ticker', bidPrice: b.low, askPrice: b.high, askQty: 2 });
    expect(ticks[2]).toMatchObject({ kind: 'agg-trade', price: b.open, quantity: 0.5, buyerIsMaker: true });
    const err = status.find((s) => s.kind === 'error');
    expect(err).toMatchObject({ detail: 'malformed markPriceUpdate' });
    expect((err as { raw: string }).raw).toContain('markPriceUpdate');
  });

  it('fills a gap over REST: missing klines are emitted in order before the new one', async () => {
    const rest = await new RestPeer().start();
    cleanups.push(() => rest.stop());
    rest.on('GET', '/fapi/v1/klines', (r) => {
      const start = Number(r.params.startTime);
      const end = Number(r.params.endTime);
      return { body: klineRows(BTC.filter((b) => b.openTime >= start && b.openTime <= end)) };
    });
    const { ws, bars, status, stream } = await setup({ rest });
    ws.send(klineFrame(BTC[0]!));
    ws.send(klineFrame(BTC[4]!)); // 1, 2, 3 missed
    ws.send(klineFrame(BTC[5]!));
    await waitFor(() => bars.length >= 6);
    await stream.drain();
    expect(bars).toEqual(BTC.slice(0, 6));
    expect(rest.requests[0]!.params).toMatchObject({
      symbol: 'BTCUSDT',
      interval: '5m',
      startTime: String(BTC[1]!.openTime),
      endTime: String(BTC[4]!.openTime - 1),
    });
    expect(status).toContainEqual({
      kind: 'gap-filled',
      symbol: 'BTCUSDT',
      from: BTC[1]!.openTime,
      to: BTC[4]!.openTime,
      bars: 3,
    });
  });

  it('answers pings with pongs', async () => {
    const { ws } = await setup();
    let pong = '';
    ws.last.socket.on('pong', (d: Buffer) => (pong = d.toString()));
    ws.last.socket.ping('are-you-there');
    await waitFor(() => pong !== '');
    expect(pong).toBe('are-you-there');
  });

  it('reconnects with exponential back-off and resubscribes everything, including live additions', async () => {
    const { ws, stream, status, sched, bars } = await setup();
    stream.subscribe(['btcusdt@depth5']);
    await waitFor(() => ws.last.received.length > 0);
    expect(JSON.parse(ws.last.received[0]!)).toEqual({ method: 'SUBSCRIBE', params: ['btcusdt@depth5'], id: 1 });
    ws.send(klineFrame(BTC[0]!));
    await waitFor(() => bars.length === 1);

    ws.refuse = 2; // the next two attempts fail
    ws.last.socket.terminate();
    await ws.waitConnections(2);
    const retries = status.filter((s) => s.kind === 'disconnected').map((s) => (s as { retryInMs: number }).retryInMs);
    expect(retries).toEqual([100, 200, 400]);
    expect(ws.last.url).toContain('btcusdt@depth5');
    // the new connection resumes the bar sequence without duplicates
    ws.send(klineFrame(BTC[0]!));
    ws.send(klineFrame(BTC[1]!));
    await waitFor(() => bars.length === 2);
    expect(bars).toEqual(BTC.slice(0, 2));
    // back-off resets after a successful open
    ws.last.socket.terminate();
    await ws.waitConnections(3);
    expect(status.filter((s) => s.kind === 'disconnected').at(-1)).toMatchObject({ retryInMs: 100 });
    expect(sched.delays).toContain(ROLLOVER);
  });

  it('rolls over to a fresh connection before 24 h, closes the old one, and loses no bar', async () => {
    const { ws, bars, sched, status } = await setup();
    ws.send(klineFrame(BTC[0]!));
    await waitFor(() => bars.length === 1);
    const first = ws.last.socket;
    expect(sched.rollovers.length).toBe(1);
    sched.rollovers[0]!();
    await ws.waitConnections(2);
    await waitFor(() => first.readyState === 3, 5000, 'old socket closed');
    expect(status.filter((s) => s.kind === 'connected').map((s) => (s as { rollover: boolean }).rollover)).toEqual([
      false,
      true,
    ]);
    expect(status.some((s) => s.kind === 'disconnected')).toBe(false);
    ws.send(klineFrame(BTC[0]!));
    ws.send(klineFrame(BTC[1]!));
    await waitFor(() => bars.length === 2);
    expect(bars).toEqual(BTC.slice(0, 2));
  });
});
