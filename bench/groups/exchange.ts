import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { loadDataset } from '../../backtests/data/index.ts';
import { AsterRestClient } from '../../live/aster/rest-client.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';
import type { Figures } from '../run.ts';

/**
 * The Aster client and the exchange simulator (issue 5, "How fast"). The simulator runs in its own
 * process (this file with --child), so client and exchange do not share an event loop, as in life:
 * - order round trip: AsterRestClient.newOrder (filters check, HMAC signing, HTTP keep-alive) →
 *   simulator (signature verified, matched) → ack, one at a time, 10,000 orders, MARKET / LIMIT
 *   alternating (the LIMIT crosses the book, so both fill and the book stays empty);
 * - simulator throughput: several V1 clients (own keys, raw keep-alive HTTP with HMAC signing, a few
 *   requests in flight each) sending orders for a fixed time; every request is verified;
 * - WebSocket fan-out: 10 clients on the aggTrade streams while the replay releases bars fast.
 * The market is the shipped real sample (data/sample/perp-5m), frozen (only `advance` moves it).
 */

const SELF = fileURLToPath(import.meta.url);
const DATA = fileURLToPath(new URL('../../data/sample/perp-5m', import.meta.url));
const ROUNDTRIP_ORDERS = 10_000;
const WARMUP_ORDERS = 2000; // JIT warm-up of both processes, not measured
const THROUGHPUT_CLIENTS = 8;
const IN_FLIGHT = 4;
const THROUGHPUT_SECONDS = 5;
const FANOUT_CLIENTS = 10;
const FANOUT_SECONDS = 3;
const KEYS = Array.from({ length: THROUGHPUT_CLIENTS + 1 }, (_, i) => ({
  apiKey: `bench-key-${i}`,
  secretKey: `bench-secret-${i}-not-real`,
}));

interface ChildReady {
  restUrl: string;
  wsUrl: string;
  symbols: string[];
  lastClose: Record<string, number>;
}

// ------------------------------------------------------------------ the simulator process

async function child(): Promise<void> {
  const series = await loadDataset({ dir: DATA });
  const startIndex = 300;
  const sim = await startExchangeSimulator({
    series,
    replayMs: 0,
    startIndex,
    initialBalance: 1e9,
    credentials: KEYS,
    // the bench measures the engine, not the rate limiters (weight, ORDERS per 10 s and per minute)
    weightLimit: 1e12,
    orderLimitPer10s: 1e12,
    orderLimitPerMinute: 1e12,
    defaultLeverage: 20,
  });
  const lastClose: Record<string, number> = {};
  for (const s of series) lastClose[s.symbol] = s.close[startIndex]!;
  const ready: ChildReady = {
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    symbols: series.map((s) => s.symbol),
    lastClose,
  };
  process.send!({ ready });
  process.on('message', (m: { advance?: number; stats?: boolean; close?: boolean }) => {
    if (m.advance !== undefined) process.send!({ advanced: sim.advance(m.advance) });
    if (m.stats) {
      let orders = 0;
      for (const k of KEYS) orders += sim.state(k.apiKey).orders.length;
      process.send!({ stats: { orders } });
    }
    if (m.close) void sim.close().then(() => process.exit(0));
  });
}

// ------------------------------------------------------------------ the bench process

class SimProcess {
  private constructor(
    readonly proc: ChildProcess,
    readonly ready: ChildReady,
  ) {}

  static async start(): Promise<SimProcess> {
    const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--child'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<ChildReady>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('simulator process did not start within 60 s')), 60_000);
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`simulator process exited (${code})`)));
      proc.on('message', (m: { ready?: ChildReady }) => {
        if (m.ready) {
          clearTimeout(t);
          resolve(m.ready);
        }
      });
    });
    proc.removeAllListeners('exit');
    return new SimProcess(proc, ready);
  }

  ask<T>(msg: object, key: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`simulator process: no answer to ${key}`)), 30_000);
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          clearTimeout(t);
          this.proc.off('message', on);
          resolve(m[key] as T);
        }
      };
      this.proc.on('message', on);
      this.proc.send(msg);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ close: true });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function roundTrip(
  sim: SimProcess,
  transport: 'default' | 'builtin-fetch',
): Promise<{ p50: number; p99: number; max: number; errors: number }> {
  const key = KEYS[0]!;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const client = new AsterRestClient({
    baseUrl: sim.ready.restUrl,
    credentials: { kind: 'hmac', apiKey: key.apiKey, secretKey: key.secretKey },
    weightLimit: 0,
    timeoutMs: 10_000,
    ...(transport === 'builtin-fetch' ? { fetch: globalThis.fetch } : {}),
  });
  const symbol = 'BTCUSDT' in sim.ready.lastClose ? 'BTCUSDT' : sim.ready.symbols[0]!;
  const mark = sim.ready.lastClose[symbol]!;
  await client.filters(symbol);
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < WARMUP_ORDERS + ROUNDTRIP_ORDERS; i++) {
    // MARKET buy, then a LIMIT sell 1 % through the book: both fill, the position stays ~flat
    const market = i % 2 === 0;
    const t0 = performance.now();
    const r = await client.newOrder(
      market
        ? { symbol, side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: `rt-${transport}-${i}` }
        : {
            symbol,
            side: 'SELL',
            type: 'LIMIT',
            timeInForce: 'GTC',
            price: mark * 0.99,
            quantity: 0.002,
            newClientOrderId: `rt-${transport}-${i}`,
          },
      { markPrice: mark },
    );
    const ms = performance.now() - t0;
    if (r.status !== 'accepted') errors++;
    if (i >= WARMUP_ORDERS) latencies.push(ms);
  }
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)!, errors };
}

/** one V1 client without our client library's bookkeeping: sign and send, keep-alive, `IN_FLIGHT` at once */
async function hammer(
  url: URL,
  key: { apiKey: string; secretKey: string },
  symbol: string,
  mark: number,
  until: number,
  tag: number,
): Promise<{ ok: number; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  let ok = 0;
  let failed = 0;
  let seq = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const i = seq++;
      const side = i % 2 === 0 ? 'BUY' : 'SELL';
      const params =
        i % 4 < 2
          ? `symbol=${symbol}&side=${side}&type=MARKET&quantity=0.002&newClientOrderId=tp-${tag}-${i}`
          : `symbol=${symbol}&side=${side}&type=LIMIT&timeInForce=IOC&price=${(side === 'BUY' ? mark * 1.01 : mark * 0.99).toFixed(1)}&quantity=0.002&newClientOrderId=tp-${tag}-${i}`;
      const body = `${params}&recvWindow=5000&timestamp=${Date.now()}`;
      const signed = `${body}&signature=${createHmac('sha256', key.secretKey).update(body).digest('hex')}`;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/fapi/v1/order',
          method: 'POST',
          agent,
          headers: {
            'X-MBX-APIKEY': key.apiKey,
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': Buffer.byteLength(signed),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(signed);
    });
  const lane = async (): Promise<void> => {
    // bounded: ends at `until`, and never more than 1,000,000 orders per lane
    for (let n = 0; n < 1_000_000 && performance.now() < until; n++) await one();
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  agent.destroy();
  return { ok, failed };
}

async function throughput(sim: SimProcess): Promise<{ perS: number; failed: number; accepted: number }> {
  const url = new URL(sim.ready.restUrl);
  const symbol = 'BTCUSDT' in sim.ready.lastClose ? 'BTCUSDT' : sim.ready.symbols[0]!;
  const mark = sim.ready.lastClose[symbol]!;
  const before = (await sim.ask<{ orders: number }>({ stats: true }, 'stats')).orders;
  const t0 = performance.now();
  const until = t0 + THROUGHPUT_SECONDS * 1000;
  const results = await Promise.all(KEYS.slice(1).map((k, i) => hammer(url, k, symbol, mark, until, i)));
  const seconds = (performance.now() - t0) / 1000;
  const after = (await sim.ask<{ orders: number }>({ stats: true }, 'stats')).orders;
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  return { perS: ok / seconds, failed, accepted: after - before };
}

async function fanOut(sim: SimProcess): Promise<{ sentPerS: number; receivedPerClientPerS: number; lagMs: number }> {
  const streams = sim.ready.symbols.flatMap((s) => [`${s.toLowerCase()}@aggTrade`, `${s.toLowerCase()}@kline_5m`]);
  const clients: { ws: WebSocket; n: number }[] = [];
  for (let i = 0; i < FANOUT_CLIENTS; i++) {
    const ws = new WebSocket(`${sim.ready.wsUrl}/stream?streams=${streams.join('/')}`);
    const c = { ws, n: 0 };
    ws.on('message', () => c.n++);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    clients.push(c);
  }
  // messages per released bar on one client: measure with one step
  await sim.ask({ advance: 1 }, 'advanced');
  await new Promise((r) => setTimeout(r, 200));
  const perStep = Math.max(1, clients[0]!.n);
  for (const c of clients) c.n = 0;
  // 1,000 msgs/s per client: release bars in 10 ms ticks
  const stepsPerTick = Math.max(1, Math.round(1000 / perStep / 100));
  const t0 = performance.now();
  let steps = 0;
  for (let tick = 0; tick < FANOUT_SECONDS * 100; tick++) {
    const due = t0 + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const n = await sim.ask<number>({ advance: stepsPerTick }, 'advanced');
    steps += n;
    if (n === 0) break; // end of the sample
  }
  const sendSeconds = (performance.now() - t0) / 1000;
  const expected = steps * perStep;
  // lag: how long after the last send until every client has everything
  const t1 = performance.now();
  for (let i = 0; i < 300 && clients.some((c) => c.n < expected); i++) await new Promise((r) => setTimeout(r, 10));
  const lagMs = performance.now() - t1;
  const received = Math.min(...clients.map((c) => c.n));
  for (const c of clients) c.ws.terminate();
  return { sentPerS: expected / sendSeconds, receivedPerClientPerS: received / sendSeconds, lagMs };
}

export async function benchExchange(): Promise<Figures> {
  const out: Figures = {};
  const sim = await SimProcess.start();
  try {
    const rt = await roundTrip(sim, 'default');
    out.order_roundtrip_p50_ms = {
      value: rt.p50,
      unit: 'ms',
      note: `AsterRestClient V1 (its default node:http keep-alive transport) → simulator (own process) → ack, loopback, ${ROUNDTRIP_ORDERS} orders MARKET/LIMIT alternating, ${rt.errors} not accepted; target ≤ 1`,
    };
    out.order_roundtrip_p99_ms = { value: rt.p99, unit: 'ms', note: `max ${rt.max.toFixed(2)} ms; target ≤ 5` };
    const rtHttp = await roundTrip(sim, 'builtin-fetch');
    out.order_roundtrip_builtin_fetch_p50_ms = {
      value: rtHttp.p50,
      unit: 'ms',
      note: `the same client on Node's built-in fetch (undici), for comparison, ${rtHttp.errors} not accepted`,
    };
    out.order_roundtrip_builtin_fetch_p99_ms = {
      value: rtHttp.p99,
      unit: 'ms',
      note: `max ${rtHttp.max.toFixed(2)} ms`,
    };
    const tp = await throughput(sim);
    out.simulator_orders_per_s = {
      value: tp.perS,
      unit: 'orders/s',
      note: `${THROUGHPUT_CLIENTS} V1 clients × ${IN_FLIGHT} in flight, ${THROUGHPUT_SECONDS} s, HMAC verified, ${tp.accepted} orders booked, ${tp.failed} failed; target ≥ 5,000`,
    };
    const fo = await fanOut(sim);
    out.ws_fanout_msgs_per_s_per_client = {
      value: fo.receivedPerClientPerS,
      unit: 'msgs/s',
      note: `${FANOUT_CLIENTS} clients, ${fo.sentPerS.toFixed(0)} msgs/s sent to each for ${FANOUT_SECONDS} s; target 1,000`,
    };
    out.ws_fanout_backlog_ms = {
      value: fo.lagMs,
      unit: 'ms',
      note: 'after the last send, until every client had every message (0 = no backlog)',
    };
  } finally {
    await sim.close();
  }
  return out;
}

if (process.argv[1] === SELF && process.argv.includes('--child')) void child();
