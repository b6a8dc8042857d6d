import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SimContext } from './context.ts';
import { ApiError, bad } from './api-error.ts';
import type { V1Auth, V3Auth } from './auth.ts';
import { newOrder } from './routes/orders.ts';
import { Router } from './routes/router.ts';
import type { Ctx, Reply, Route } from './routes/route.ts';

export interface HttpLimits {
  /** request weight per IP per minute */
  weightLimit: number;
  orderLimitPer10s: number;
  orderLimitPerMinute: number;
}

type Headers = Record<string, string>;
const UNKNOWN_ERROR = { code: -1000, msg: 'An unknown error occurred while processing the request.' };
const MAX_BODY_BYTES = 1_000_000;
const BAN_MS = 120_000;

function writeJson(res: ServerResponse, status: number, body: unknown, headers: Headers): void {
  if (res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** orders in a batchOrders request, for the ORDERS limits (a malformed list counts as one; the route rejects it) */
function batchSize(params: URLSearchParams): number {
  try {
    const list = JSON.parse(params.get('batchOrders') ?? '') as unknown;
    return Array.isArray(list) ? Math.max(1, list.length) : 1;
  } catch {
    return 1;
  }
}

interface Parsed {
  method: string;
  path: string;
  rawQuery: string;
  rawBody: string;
  version: number;
  name: string;
  params: URLSearchParams;
}

/**
 * The REST side: request weight per IP (429, then a 418 ban), the ORDERS limits per account,
 * request-path faults, V1/V3 auth, then the route table.
 */
export class HttpApi {
  private readonly router: Router;
  private readonly weights = new Map<string, { window: number; used: number; n429: number; bannedUntil: number }>();
  private readonly orderCounts = new Map<string, { tenS: number; nTenS: number; minute: number; nMinute: number }>();

  constructor(
    private readonly sim: SimContext,
    private readonly auth: { v1: V1Auth; v3: V3Auth },
    private readonly limits: HttpLimits,
  ) {
    this.router = new Router(sim);
  }

  createServer(): Server {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          writeJson(res, 413, { code: -1000, msg: 'Request body too large.' }, {});
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (res.writableEnded) return;
        this.handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() =>
          writeJson(res, 500, UNKNOWN_ERROR, {}),
        );
      });
      req.on('error', () => undefined);
    });
    server.keepAliveTimeout = 65_000;
    return server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const now = this.sim.clock.now();
    const headers: Headers = {};
    const parsed = this.parse(req, res, rawBody, now);
    if (!parsed) return;
    if (!this.withinWeight(res, req.socket.remoteAddress ?? '?', parsed, now, headers)) return;
    if (!(await this.passRequestFaults(res, parsed.path, headers))) return;
    try {
      const reply = await this.answer(req, parsed, now, headers);
      writeJson(res, reply.status ?? 200, reply.body, headers);
    } catch (e) {
      if (e instanceof ApiError) writeJson(res, e.status, { code: e.code, msg: e.message }, headers);
      else writeJson(res, 500, UNKNOWN_ERROR, headers);
    }
  }

  /** the path and parameters, or undefined when the reply has been written */
  private parse(req: IncomingMessage, res: ServerResponse, rawBody: string, now: number): Parsed | undefined {
    const url = req.url ?? '/';
    const qIdx = url.indexOf('?');
    const path = qIdx < 0 ? url : url.slice(0, qIdx);
    const rawQuery = qIdx < 0 ? '' : url.slice(qIdx + 1);
    const method = req.method ?? 'GET';
    // spot exchangeInfo (ccxt loads it next to the futures one)
    if (path === '/api/v3/exchangeInfo' || path === '/api/v1/exchangeInfo') {
      const empty = { timezone: 'UTC', serverTime: now, rateLimits: [], exchangeFilters: [], assets: [], symbols: [] };
      writeJson(res, 200, empty, {});
      return undefined;
    }
    const m = /^\/fapi\/v([1-4])\/(.+)$/.exec(path);
    if (!m) {
      writeJson(res, 404, { code: -1000, msg: `Path ${method} ${path} is invalid.` }, {});
      return undefined;
    }
    try {
      const params = new URLSearchParams(rawBody);
      for (const [k, v] of new URLSearchParams(rawQuery)) params.set(k, v);
      return { method, path, rawQuery, rawBody, version: Number(m[1]), name: m[2]!.replace(/\/$/, ''), params };
    } catch {
      writeJson(res, 400, { code: -1100, msg: 'Illegal characters found in a parameter.' }, {});
      return undefined;
    }
  }

  /** request weight per IP per minute: 429 over the limit, a 2-minute 418 ban after three 429s */
  private withinWeight(res: ServerResponse, ip: string, p: Parsed, now: number, headers: Headers): boolean {
    const window = Math.floor(now / 60_000);
    let w = this.weights.get(ip);
    if (!w || w.window !== window) {
      w = { window, used: 0, n429: 0, bannedUntil: w?.bannedUntil ?? 0 };
      this.weights.set(ip, w);
    }
    const retryS = (until: number): string => String(Math.max(1, Math.ceil((until - now) / 1000)));
    if (w.bannedUntil > now) {
      const msg = `Way too many requests; IP banned until ${w.bannedUntil}. Please use the websocket for live updates to avoid bans.`;
      writeJson(res, 418, { code: -1003, msg }, { 'Retry-After': retryS(w.bannedUntil) });
      return false;
    }
    w.used += this.router.weight(p.method, p.name, p.params);
    headers['X-MBX-USED-WEIGHT-1M'] = String(w.used);
    if (w.used <= this.limits.weightLimit) return true;
    w.n429++;
    if (w.n429 > 3) {
      w.bannedUntil = now + BAN_MS;
      const msg = `Way too many requests; IP banned until ${w.bannedUntil}.`;
      writeJson(res, 418, { code: -1003, msg }, { ...headers, 'Retry-After': retryS(w.bannedUntil) });
      return false;
    }
    const msg = `Too many requests; current limit is ${this.limits.weightLimit} requests per minute.`;
    writeJson(res, 429, { code: -1003, msg }, { ...headers, 'Retry-After': retryS((window + 1) * 60_000) });
    return false;
  }

  /** injected latency spikes, 429s and 418s on the request path; false when the reply has been written */
  private async passRequestFaults(res: ServerResponse, path: string, headers: Headers): Promise<boolean> {
    const faults = this.sim.faults;
    for (const f of faults.poll()) this.sim.hub.dropSockets(f.kind);
    const spike = faults.take(path, ['latency-spike']);
    if (spike) {
      const ms = spike.opts.delayMs ?? 200 + Math.floor(faults.random() * 4800);
      await new Promise<void>((r) => this.sim.later(r, ms));
    }
    const hard = faults.take(path, ['rate-limit-429', 'ban-418']);
    if (!hard) return true;
    const retry = { ...headers, 'Retry-After': String(hard.opts.retryAfterS ?? (hard.kind === 'ban-418' ? 2 : 1)) };
    if (hard.kind === 'rate-limit-429') {
      const msg = `Too many requests; current limit is ${this.limits.weightLimit} requests per minute.`;
      writeJson(res, 429, { code: -1003, msg }, retry);
    } else writeJson(res, 418, { code: -1003, msg: 'Way too many requests; IP banned.' }, retry);
    return false;
  }

  private async answer(req: IncomingMessage, p: Parsed, now: number, headers: Headers): Promise<Reply> {
    const route = this.router.find(p.method, p.name, p.version);
    if (!route) throw new ApiError(404, -1000, `Path ${p.method} ${p.path} is invalid.`);
    const { account, params } = await this.authenticate(req, route, p, now);
    const ctx: Ctx = { method: p.method, name: p.name, version: p.version, params, account, now };
    const isNewOrder = p.method === 'POST' && p.name === 'order';
    const newOrders = isNewOrder ? 1 : p.method === 'POST' && p.name === 'batchOrders' ? batchSize(params) : 0;
    if (newOrders > 0) this.countOrders(account, newOrders, now, headers);
    this.unknownStatusFault(ctx, p.path, isNewOrder);
    return isNewOrder ? this.placeWithFillFaults(ctx, p.path) : route.handle(ctx);
  }

  /** the account and the parameters that count (V3: only the signed string's) */
  private async authenticate(
    req: IncomingMessage,
    route: Route,
    p: Parsed,
    now: number,
  ): Promise<{ account: string; params: URLSearchParams }> {
    const sec = Router.security(route, p.version);
    if (sec === 'NONE') return { account: '', params: p.params };
    if (p.version === 3) {
      const r = await this.auth.v3.signed(p.rawQuery, p.rawBody, now);
      if (!r.ok) throw new ApiError(r.status, r.code, r.msg);
      return { account: r.account, params: r.signed };
    }
    const header = req.headers['x-mbx-apikey'];
    const key = Array.isArray(header) ? header[0] : header;
    const r =
      sec === 'KEY' ? this.auth.v1.keyOnly(key) : this.auth.v1.signed(key, p.rawQuery, p.rawBody, p.params, now);
    if (!r.ok) throw new ApiError(r.status, r.code, r.msg);
    if (sec === 'SIGNED' && this.sim.faults.take(p.path, ['timestamp-1021']))
      throw bad(-1021, 'Timestamp for this request is outside of the recvWindow.');
    return { account: r.account, params: p.params };
  }

  /**
   * ORDERS limits per account (exchangeInfo rateLimits: 300 per 10 s, 1200 per minute): the counts go
   * out as X-MBX-ORDER-COUNT-10S / -1M; over either limit the order is refused with 429 / -1015.
   */
  private countOrders(account: string, n: number, now: number, headers: Headers): void {
    const tenS = Math.floor(now / 10_000);
    const minute = Math.floor(now / 60_000);
    const c = this.orderCounts.get(account) ?? { tenS, nTenS: 0, minute, nMinute: 0 };
    if (c.tenS !== tenS) [c.tenS, c.nTenS] = [tenS, 0];
    if (c.minute !== minute) [c.minute, c.nMinute] = [minute, 0];
    c.nTenS += n;
    c.nMinute += n;
    this.orderCounts.set(account, c);
    headers['X-MBX-ORDER-COUNT-10S'] = String(c.nTenS);
    headers['X-MBX-ORDER-COUNT-1M'] = String(c.nMinute);
    const over = (limit: number, per: string): ApiError =>
      new ApiError(429, -1015, `Too many new orders; current limit is ${limit} orders per ${per}.`);
    if (c.nTenS > this.limits.orderLimitPer10s) throw over(this.limits.orderLimitPer10s, '10 SECOND');
    if (c.nMinute > this.limits.orderLimitPerMinute) throw over(this.limits.orderLimitPerMinute, 'MINUTE');
  }

  /** the exchange timed out: the order may or may not exist */
  private unknownStatusFault(ctx: Ctx, path: string, isNewOrder: boolean): void {
    const unknown = this.sim.faults.take(path, ['unknown-503']);
    if (!unknown) return;
    if (isNewOrder && (unknown.opts.place ?? this.sim.faults.random() < 0.5)) {
      try {
        newOrder(this.sim, ctx);
      } catch {
        // a rejected order simply does not exist
      }
    }
    throw new ApiError(
      503,
      -1007,
      'Timeout waiting for response from backend server. Send status unknown; execution status unknown.',
    );
  }

  /** delayed and partial fills fit only MARKET orders: any other order puts the fault back unused */
  private placeWithFillFaults(ctx: Ctx, path: string): Reply {
    const fill = this.sim.faults.take(path, ['delayed-fill', 'partial-fill']);
    if (!fill) return newOrder(this.sim, ctx);
    if (ctx.params.get('type') !== 'MARKET') {
      this.sim.faults.putBack(fill);
      return newOrder(this.sim, ctx);
    }
    return newOrder(this.sim, ctx, {
      kind: fill.kind,
      delayMs: fill.opts.delayMs ?? 200 + Math.floor(this.sim.faults.random() * 1800),
      ...(fill.opts.fraction !== undefined ? { fraction: fill.opts.fraction } : {}),
    });
  }
}
