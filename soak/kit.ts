import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** One line of the soak table: what was injected, how often, whether the property held, the figures. */
export interface SoakRow {
  scenario: string;
  injected: string;
  count: number;
  held: boolean;
  figures: string;
}

export const REPO = fileURLToPath(new URL('../', import.meta.url));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sapphire-soak-${prefix}-`));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Polls `probe` until it returns a value (errors count as "not yet"), at most `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than 2 points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const fmt = (v: number | null, digits = 2): string => (v === null ? 'n/a' : v.toFixed(digits));

// ---------------------------------------------------------------- redis-server

export interface SpawnedRedis {
  port: number;
  url: string;
  /** SIGKILL the server (an outage) */
  kill(): Promise<void>;
  /** start it again on the same port and data dir */
  restart(): Promise<void>;
  client(): Redis;
  close(): Promise<void>;
}

/** Every child process the soak kit spawned and has not seen exit: killed when this process exits. */
const spawned = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
}
/** SIGKILLs every child still running (for test teardown after a timeout). */
export function killSpawned(): void {
  for (const c of spawned) c.kill('SIGKILL');
  spawned.clear();
}
process.once('exit', killSpawned);

/** A private redis-server on a free port, append-only with fsync always, so a kill loses nothing written. */
export async function spawnRedis(): Promise<SpawnedRedis> {
  const port = await freePort();
  const dir = tempDir('redis');
  let child: ChildProcess | null = null;
  const clients: Redis[] = [];
  const start = async () => {
    child = track(
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
        { cwd: dir, stdio: 'ignore' },
      ),
    );
    await until(
      'redis-server to answer',
      async () => {
        const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG' ? true : undefined;
        } finally {
          probe.disconnect();
        }
      },
      10_000,
      50,
    );
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    client() {
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      r.on('error', () => undefined);
      clients.push(r);
      return r;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await kill();
    },
  };
}

/** Every entry of a stream as flat field objects. */
export async function streamEntries(redis: Redis, key: string): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  let from = '-';
  for (let page = 0; page < 10_000; page++) {
    const batch = await redis.xrange(key, from, '+', 'COUNT', 5000);
    for (const [, flat] of batch) {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      out.push(fields);
    }
    if (batch.length < 5000) break;
    from = `(${batch.at(-1)![0]}`;
  }
  return out;
}

// ---------------------------------------------------------------- `sapphire serve` as a process

export interface ServeProcess {
  child: ChildProcess;
  base: string;
  output(): string;
  kill9(): Promise<void>;
}

/** Spawns `sapphire serve NAME=VALUE…` with a clean environment; stdout+stderr are kept. */
/** `sapphire serve` as a child; `secrets` go in its environment, never on its command line. */
export function spawnServe(
  port: number,
  settings: Record<string, string>,
  secrets: Record<string, string> = {},
  flags: readonly string[] = [],
): ServeProcess {
  const args = [...flags, ...Object.entries({ PORT: String(port), ...settings }).map(([k, v]) => `${k}=${v}`)];
  const child = track(
    spawn(process.execPath, ['--import', import.meta.resolve('tsx'), `${REPO}bin/sapphire.ts`, 'serve', ...args], {
      cwd: REPO,
      // a clean environment: nothing of the caller's (secrets included) leaks into the service
      env: { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, ...secrets },
      stdio: 'pipe',
    }),
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    output: () => out,
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

// ---------------------------------------------------------------- a loopback model server

/** An OpenAI-compatible chat endpoint on 127.0.0.1 that answers every request with a fixed reply. */
export async function modelServer(): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server: Server = createHttpServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'soak-1',
          model: 'soak-model',
          choices: [{ index: 0, message: { role: 'assistant', content: 'neutral' }, finish_reason: 'stop' }],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
