import { afterEach, describe, expect, it } from 'vitest';
import { asterMarketPort } from '../../../live/aster/aster-market-port.ts';
import { AsterMarketStream } from '../../../live/aster/market-stream.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import type { Timers } from '../../../pipelines/ports.ts';
import type { Bar } from '../../../pipelines/model/index.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { RestPeer } from './kit/rest-peer.ts';
import { WsPeer, klineFrame, klineRows, waitFor } from './kit/ws-peer.ts';

const BTC = fixtureBars('BTCUSDT');
const ETH = fixtureBars('ETHUSDT');
const byTime = (a: Bar, b: Bar): number => a.time - b.time || (a.symbol === 'BTCUSDT' ? -1 : 1);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** "now" is inside bar 20: bars 0..19 are closed, bar 20 is still forming */
async function setup(opts: { warmupBars: number; grace?: number; barClosesAfterWarmup?: boolean } = { warmupBars: 5 }) {
  let now = BTC[20]!.openTime + 60_000;
  let warmupReads = 0;
  const rest = await new RestPeer().start();
  const ws = await new WsPeer().start();
  cleanups.push(
    () => rest.stop(),
    () => ws.stop(),
  );
  rest.on('GET', '/fapi/v1/klines', (r) => {
    const src = r.params.symbol === 'BTCUSDT' ? BTC : ETH;
    const end = r.params.endTime ? Number(r.params.endTime) : now;
    const start = r.params.startTime ? Number(r.params.startTime) : -Infinity;
    const rows = src.filter((b) => b.openTime <= end && b.openTime >= start && b.openTime <= now);
    const limit = Number(r.params.limit ?? 500);
    const body = klineRows(r.params.startTime ? rows.slice(0, limit) : rows.slice(-limit));
    // bar 20 closes once both symbols' warm-ups are read, before the socket is open
    if (!r.params.startTime && ++warmupReads === 2 && opts.barClosesAfterWarmup) now = BTC[21]!.openTime + 60_000;
    return { body };
  });
  const client = new AsterRestClient({ baseUrl: rest.url, now: () => now });
  const timers: (() => void)[] = [];
  const scheduler: Timers = {
    setTimeout: (fn, ms) =>
      ms === 999 ? (timers.push(fn), null) : ms >= 600_000 ? null : setTimeout(fn, Math.min(ms, 5)),
    clearTimeout: (h) => {
      if (h !== null) clearTimeout(h as ReturnType<typeof setTimeout>);
    },
  };
  const stream = new AsterMarketStream({
    wsUrl: ws.url,
    symbols: ['BTCUSDT', 'ETHUSDT'],
    interval: '5m',
    klines: (q) => client.klines(q),
    // the exchange's clock, as the service wires it (the first connection fills up to it)
    now: () => client.serverNow(),
    scheduler,
  });
  const port = asterMarketPort({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    interval: '5m',
    warmupBars: opts.warmupBars,
    klines: (q) => client.klines(q),
    serverNow: () => client.serverNow(),
    stream,
    scheduler,
    alignGraceMs: opts.grace ?? 999,
  });
  const out: Bar[] = [];
  const sub = port.bars().subscribe((b) => out.push(b));
  cleanups.push(() => sub.unsubscribe());
  return { rest, ws, out, stream, timers };
}

describe('asterMarketPort', () => {
  it('warms up N closed bars per symbol (never the forming one), merged in time order, ties in symbol order', async () => {
    const { out, ws } = await setup({ warmupBars: 5 });
    await ws.waitConnections(1);
    expect(out).toEqual([...BTC.slice(15, 20), ...ETH.slice(15, 20)].sort(byTime));
  });

  it('paginates warm-ups longer than one REST page', async () => {
    const { out, ws, rest } = await setup({ warmupBars: 1000 });
    await ws.waitConnections(1);
    // only 20 closed bars exist before "now": all of them, each once, in order
    expect(out).toEqual([...BTC.slice(0, 20), ...ETH.slice(0, 20)].sort(byTime));
    expect(rest.count('GET', '/fapi/v1/klines')).toBeGreaterThanOrEqual(2);
  });

  it('continues with live bars: seam duplicates dropped, a gap at the seam filled over REST, symbols aligned in time', async () => {
    const { out, ws, rest } = await setup({ warmupBars: 3 });
    await ws.waitConnections(1);
    const warm = out.length;
    expect(warm).toBe(6);
    ws.send(klineFrame(BTC[19]!)); // already in the warm-up
    ws.send(klineFrame(BTC[20]!));
    ws.send(klineFrame(ETH[20]!));
    await waitFor(() => out.length === warm + 2);
    expect(out.slice(warm)).toEqual([BTC[20], ETH[20]]);
    // ETH arrives first for the next bar: held until BTC reaches the same time
    ws.send(klineFrame(ETH[21]!));
    await new Promise((r) => setTimeout(r, 30)); // a fixed wait on purpose: proves ETH stays held
    expect(out.length).toBe(warm + 2);
    ws.send(klineFrame(BTC[21]!));
    await waitFor(() => out.length === warm + 4);
    expect(out.slice(warm + 2)).toEqual([BTC[21], ETH[21]]);
    expect(rest.count('GET', '/fapi/v1/klines')).toBe(2); // warm-ups only
  });

  it('a missing symbol does not block the others past the grace period', async () => {
    const { out, ws, timers } = await setup({ warmupBars: 2 });
    await ws.waitConnections(1);
    const warm = out.length;
    ws.send(klineFrame(BTC[20]!));
    await waitFor(() => timers.length === 1);
    expect(out.length).toBe(warm);
    timers[0]!();
    expect(out.slice(warm)).toEqual([BTC[20]]);
  });

  it('live bars after a gap since the warm-up are fetched over REST and emitted in order', async () => {
    const { out, ws, rest } = await setup({ warmupBars: 2 });
    await ws.waitConnections(1);
    const warm = out.length;
    // the peer's REST now "knows" bars up to 22: the stream missed 20 and 21
    rest.on('GET', '/fapi/v1/klines', (r) => {
      const src = r.params.symbol === 'BTCUSDT' ? BTC : ETH;
      return {
        body: klineRows(
          src.filter((b) => b.openTime >= Number(r.params.startTime) && b.openTime <= Number(r.params.endTime)),
        ),
      };
    });
    ws.send(klineFrame(BTC[22]!));
    ws.send(klineFrame(ETH[22]!));
    await waitFor(() => out.length === warm + 6);
    expect(out.slice(warm)).toEqual([BTC[20], ETH[20], BTC[21], ETH[21], BTC[22], ETH[22]]);
  });

  it('a bar that closed between the warm-up and the socket opening is fetched as the socket opens, not a bar later', async () => {
    const { out, ws, rest } = await setup({ warmupBars: 2, barClosesAfterWarmup: true });
    await ws.waitConnections(1);
    // no live frame at all: the stream asks REST for what closed since the warm-up
    await waitFor(() => out.length === 6);
    expect(out.slice(4)).toEqual([BTC[20], ETH[20]]);
    expect(rest.count('GET', '/fapi/v1/klines')).toBe(4);
  });
});
