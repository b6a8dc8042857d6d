import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../soak/kit.ts';
import { RedisStreams, RingBufferStreams } from '../../../live/telemetry/streams.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('Redis telemetry streams', () => {
  it('writes flat fields to trader:* streams with an approximate MAXLEN, and reads newest last', async () => {
    const prefix = `test:${process.pid}:${Date.now()}:`;
    const streams = new RedisStreams({ url: REDIS_URL, maxLen: 100, prefix });
    for (let i = 0; i < 500; i++) streams.append('decisions', { i: String(i), data: JSON.stringify({ n: i }) });
    expect(await streams.flush(5000)).toBe(true);
    const redis = new Redis(REDIS_URL);
    try {
      const length = await redis.xlen(`${prefix}decisions`);
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(500);
      const last = await streams.read('decisions', 3);
      expect(last.map((e) => e.fields.i)).toEqual(['497', '498', '499']);
      expect(JSON.parse(last[2]!.fields.data!)).toEqual({ n: 499 });
    } finally {
      await redis.del(`${prefix}decisions`);
      redis.disconnect();
      await streams.close();
    }
  });

  it('never blocks or throws while Redis is down, reports it, and catches up when Redis returns', async () => {
    const port = await freePort();
    const failures: string[] = [];
    const streams = new RedisStreams({
      url: `redis://127.0.0.1:${port}`,
      maxLen: 1000,
      prefix: 'outage:',
      onFailure: (e) => failures.push(e.message),
    });
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) streams.append('positions', { i: String(i) });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await waitFor(() => streams.status().healthy === false, 5000)).toBe(true);
    expect(streams.status().pending).toBe(200);
    // reads keep working from the local mirror during the outage
    expect((await streams.read('positions', 2)).map((e) => e.fields.i)).toEqual(['198', '199']);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.join(' ')).not.toContain('redis://');

    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    children.push(server);
    expect(await waitFor(() => streams.status().pending === 0, 15_000)).toBe(true);
    const redis = new Redis(`redis://127.0.0.1:${port}`);
    expect(await redis.xlen('outage:positions')).toBe(200);
    const entries = await redis.xrange('outage:positions', '-', '+');
    expect(entries.map(([, f]) => f[1])).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    redis.disconnect();
    expect(streams.status().healthy).toBe(true);
    await streams.close();
  });

  it('the in-process ring buffer keeps the newest entries up to its length', async () => {
    const ring = new RingBufferStreams(50);
    for (let i = 0; i < 1000; i++) ring.append('reasoning', { i: String(i) });
    const all = await ring.read('reasoning', 200);
    expect(all.length).toBeGreaterThanOrEqual(50);
    expect(all.length).toBeLessThanOrEqual(50 + 64);
    expect(all.at(-1)!.fields.i).toBe('999');
  });
});
