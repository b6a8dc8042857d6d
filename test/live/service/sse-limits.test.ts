import { connect, type Socket } from 'node:net';
import { request, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../pipelines/model/index.ts';
import { testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await service?.close();
  service = null;
});

/**
 * The /events route over the real engine, listening on loopback. The route's event source is a
 * fan-out the test drives: the engine's own events (decisions, fills, closed trades of a real run
 * on the fixture bars) are sent again in rounds, so a reader falls behind in a bounded time
 * instead of after hours of 5-minute bars.
 */
async function listening(settings: Record<string, unknown>) {
  const listeners = new Set<(e: PipelineEvent) => void>();
  service = await testService({
    settings,
    app: {
      onEvents: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    },
  });
  await service.feed(400);
  const events = service.sent.filter((e) => e.kind === 'decision' || e.kind === 'fill' || e.kind === 'trade-closed');
  expect(events.length).toBeGreaterThan(50);
  const base = await service.app.listen({ port: 0, host: '127.0.0.1' });
  // listeners the app holds for itself (the desk's) are not streams
  const own = listeners.size;
  /** sends every recorded event once to every open stream, a few at a time, letting the sockets move */
  const round = async () => {
    for (let i = 0; i < events.length; i += 10) {
      for (const e of events.slice(i, i + 10)) for (const l of [...listeners]) l(e);
      await new Promise((r) => setImmediate(r));
    }
  };
  return { base, round, streams: () => listeners.size - own };
}

/** An /events reader that reads everything (a dashboard tab). */
function reader(base: string): Promise<{ res: IncomingMessage; bytes: () => number; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    request(`${base}/events`, (res) => {
      let bytes = 0;
      let closed = false;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('close', () => (closed = true));
      res.on('error', () => (closed = true));
      resolve({ res, bytes: () => bytes, closed: () => closed });
    })
      .on('error', reject)
      .end();
  });
}

/** An /events reader that never reads: the request is sent, then the socket is paused. */
function stalledReader(base: string): Promise<Socket> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET /events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

async function metric(base: string, kind: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('rate_limit_events_total') && l.includes(`kind="${kind}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const until = async (what: string, ok: () => boolean, rounds: number, step: () => Promise<void>) => {
  for (let i = 0; i < rounds && !ok(); i++) await step();
  if (!ok()) throw new Error(`${what}: not after ${rounds} rounds`);
};
const tick = () => new Promise<void>((r) => setTimeout(r, 10));

describe('/events is capped and drops slow readers (issue 14 item 12)', () => {
  it('beyond SSE_MAX_CLIENTS a new stream gets 503 naming the setting; the API still answers; a freed slot is reused', async () => {
    const { base, streams } = await listening({ SSE_MAX_CLIENTS: 5 });
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await reader(base));
    expect(open.every((r) => r.res.statusCode === 200)).toBe(true);
    const refused = await fetch(`${base}/events`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { message: string }).message).toContain('SSE_MAX_CLIENTS=5');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await metric(base, 'sse-cap')).toBe(1);
    open[0]!.res.destroy();
    await until('the slot to free', () => streams() === 4, 200, tick);
    const again = await reader(base);
    expect(again.res.statusCode).toBe(200);
    for (const r of [...open, again]) r.res.destroy();
  });

  it('a paused reader is dropped past SSE_MAX_BUFFER_BYTES while a normal reader keeps receiving', async () => {
    const { base, round, streams } = await listening({ SSE_MAX_BUFFER_BYTES: 65_536 });
    const normal = await reader(base);
    await stalledReader(base);
    await until('two streams', () => streams() === 2, 200, tick);
    await until('the stalled reader to be dropped', () => streams() === 1, 2_000, round);
    expect(await metric(base, 'sse-slow-reader')).toBe(1);
    const received = normal.bytes();
    for (let i = 0; i < 20; i++) await round();
    expect(normal.closed()).toBe(false);
    expect(normal.bytes()).toBeGreaterThan(received);
    expect(streams()).toBe(1);
    normal.res.destroy();
  }, 60_000);

  it('20 stalled readers: the server keeps at most the buffer bound for each, not what they did not read', async () => {
    const bound = 65_536;
    const { base, round, streams } = await listening({ SSE_MAX_BUFFER_BYTES: bound });
    const probe = await reader(base);
    for (let i = 0; i < 20; i++) await stalledReader(base);
    await until('21 streams', () => streams() === 21, 200, tick);
    const heap0 = process.memoryUsage().heapUsed;
    // ~8 MB per reader: more than loopback's socket buffers hold, so a stalled reader's backlog
    // is in the server's memory until it is dropped (20 × 8 MB without the bound)
    let sent = 0;
    let heapPeak = 0;
    for (let rounds = 0; sent < 8_000_000 && rounds < 2_000; rounds++) {
      const before = probe.bytes();
      await round();
      sent += probe.bytes() - before;
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed - heap0);
      if (probe.bytes() === before) await tick();
    }
    expect(sent).toBeGreaterThanOrEqual(8_000_000);
    console.log(
      `20 stalled readers, ${(sent / 1e6).toFixed(1)} MB sent per stream: heap peak +${(heapPeak / 1e6).toFixed(1)} MB`,
    );
    expect(streams()).toBe(1);
    expect(await metric(base, 'sse-slow-reader')).toBe(20);
    expect(heapPeak).toBeLessThan(40_000_000);
    probe.res.destroy();
  }, 120_000);
});
