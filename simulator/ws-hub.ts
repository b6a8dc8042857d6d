import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FaultKind } from './faults.ts';
import type { ClockPort } from '../pipelines/ports.ts';
import { klineIntervalMs } from './replay.ts';

interface MarketSocket {
  ws: WebSocket;
  combined: boolean;
  streams: Set<string>;
  msgWindow: number;
  msgCount: number;
}

export interface UserKey {
  key: string;
  account: string;
  expiresAt: number;
  sockets: Set<WebSocket>;
}

export interface WsHubOptions {
  /** wall time: listen-key expiry, pings, connection age */
  clock: ClockPort;
  /** the market clock, stamped on the events the hub itself emits (listenKeyExpired) */
  eventTime(): number;
  later(fn: () => void, ms: number): void;
  /** the replayed bar interval: kline streams must be a multiple of it */
  intervalMs: number;
  listenKeyTtlMs: number;
  maxConnectionMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
}

const STREAM =
  /^([a-z0-9]+@(kline_\w+|markPrice(@1s)?|bookTicker|aggTrade|depth(5|10|20)(@100ms|@250ms|@500ms)?|ticker|miniTicker)|!markPrice@arr(@1s)?|!bookTicker|!ticker@arr|!miniTicker@arr)$/;
const MAX_STREAMS = 200;
const MAX_MESSAGES_PER_SECOND = 10;

/**
 * The WebSocket side: market sockets with their subscriptions, listen keys with their user-data
 * sockets, pings and pong timeouts. It only carries frames; what goes out is decided elsewhere.
 */
export class WsHub {
  private readonly market = new Set<MarketSocket>();
  private readonly listenKeys = new Map<string, UserKey>();
  private readonly keyByAccount = new Map<string, string>();
  private readonly pongs = new Map<WebSocket, number>();
  private readonly wss = new WebSocketServer({ noServer: true });
  private lastPing: number;

  constructor(private readonly o: WsHubOptions) {
    this.lastPing = o.clock.now();
  }

  get marketSocketCount(): number {
    return this.market.size;
  }

  get userSocketCount(): number {
    let n = 0;
    for (const uk of this.listenKeys.values()) n += uk.sockets.size;
    return n;
  }

  publish(stream: string, payload: unknown): void {
    let raw: string | undefined;
    let wrapped: string | undefined;
    for (const s of this.market) {
      if (!s.streams.has(stream)) continue;
      if (s.combined) send(s.ws, (wrapped ??= JSON.stringify({ stream, data: payload })));
      else send(s.ws, (raw ??= JSON.stringify(payload)));
    }
  }

  /** the subscribed streams starting with `prefix`, so nothing is built for nobody */
  listened(prefix: string): string[] {
    const out = new Set<string>();
    for (const ms of this.market) for (const st of ms.streams) if (st.startsWith(prefix)) out.add(st);
    return [...out];
  }

  /** whether the account has a user-data socket open */
  listening(account: string): boolean {
    const key = this.keyByAccount.get(account);
    return key !== undefined && (this.listenKeys.get(key)?.sockets.size ?? 0) > 0;
  }

  toUser(account: string, payload: unknown): void {
    const key = this.keyByAccount.get(account);
    const uk = key ? this.listenKeys.get(key) : undefined;
    if (!uk || uk.sockets.size === 0) return;
    const text = JSON.stringify(payload);
    for (const ws of uk.sockets) send(ws, text);
  }

  /** the account's listen key (one per account: a second call extends it) */
  createListenKey(account: string): string {
    const existing = this.keyByAccount.get(account);
    const now = this.o.clock.now();
    if (existing) {
      this.listenKeys.get(existing)!.expiresAt = now + this.o.listenKeyTtlMs;
      return existing;
    }
    const key = randomBytes(32).toString('hex');
    this.listenKeys.set(key, { key, account, expiresAt: now + this.o.listenKeyTtlMs, sockets: new Set() });
    this.keyByAccount.set(account, key);
    return key;
  }

  /** false when the account has no listen key */
  keepAlive(account: string): boolean {
    const uk = this.keyOf(account);
    if (!uk) return false;
    uk.expiresAt = this.o.clock.now() + this.o.listenKeyTtlMs;
    return true;
  }

  closeListenKey(account: string): void {
    const uk = this.keyOf(account);
    if (!uk) return;
    for (const ws of uk.sockets) ws.close(1000, 'listenKey closed');
    this.listenKeys.delete(uk.key);
    this.keyByAccount.delete(account);
  }

  dropSockets(kind: FaultKind): void {
    if (kind === 'drop-market-ws') for (const s of this.market) s.ws.terminate();
    if (kind === 'drop-user-ws') for (const uk of this.listenKeys.values()) for (const ws of uk.sockets) ws.terminate();
  }

  /** pings, pong timeouts and listen-key expiry, called on a short wall-clock period */
  sweep(): void {
    const now = this.o.clock.now();
    if (now - this.lastPing >= this.o.pingIntervalMs) {
      this.lastPing = now;
      for (const [ws, last] of this.pongs) {
        if (now - last > this.o.pongTimeoutMs) ws.terminate();
        else if (ws.readyState === ws.OPEN) ws.ping();
      }
    }
    for (const uk of [...this.listenKeys.values()]) if (uk.expiresAt <= now) this.expire(uk);
  }

  terminateAll(): void {
    for (const s of this.market) s.ws.terminate();
    for (const uk of this.listenKeys.values()) for (const ws of uk.sockets) ws.terminate();
    this.wss.close();
  }

  /** `/stream?streams=…` (combined), `/ws`, `/ws/<streams>` (raw) and `/ws/<listenKey>` (user data) */
  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname;
      socket.on('error', () => undefined);
      const accept = (on: (ws: WebSocket) => void): void => this.wss.handleUpgrade(req, socket, head, on);
      if (path === '/stream' || path === '/stream/') {
        const streams = (url.searchParams.get('streams') ?? '').split('/').filter((x) => x !== '');
        accept((ws) => this.attachMarket(ws, true, streams));
        return;
      }
      if (path === '/ws' || path === '/ws/') {
        accept((ws) => this.attachMarket(ws, false, []));
        return;
      }
      const m = /^\/ws\/(.+)$/.exec(path);
      const tail = m ? decodeURIComponent(m[1]!) : '';
      const uk = this.listenKeys.get(tail);
      if (uk && uk.expiresAt <= this.o.clock.now()) {
        this.expire(uk);
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (uk) return accept((ws) => this.attachUser(ws, uk));
      const streams = tail.split('/').filter((s) => this.validStream(s));
      if (m && streams.length > 0) return accept((ws) => this.attachMarket(ws, false, streams));
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  private keyOf(account: string): UserKey | undefined {
    const key = this.keyByAccount.get(account);
    return key ? this.listenKeys.get(key) : undefined;
  }

  private expire(uk: UserKey): void {
    const text = JSON.stringify({ e: 'listenKeyExpired', E: this.o.eventTime() });
    for (const ws of uk.sockets) {
      send(ws, text);
      ws.close(1000, 'listenKey expired');
    }
    this.listenKeys.delete(uk.key);
    if (this.keyByAccount.get(uk.account) === uk.key) this.keyByAccount.delete(uk.account);
  }

  private validStream(s: string): boolean {
    const kl = /@kline_(\w+)$/.exec(s);
    if (kl) {
      const ms = klineIntervalMs(kl[1]!);
      if (ms === undefined || ms % this.o.intervalMs !== 0) return false;
    }
    return STREAM.test(s);
  }

  /** pong bookkeeping, the 24 h lifetime and error swallowing every socket gets */
  private track(ws: WebSocket, onClose: () => void): void {
    this.o.later(() => {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'connection lifetime reached');
    }, this.o.maxConnectionMs);
    this.pongs.set(ws, this.o.clock.now());
    ws.on('pong', () => this.pongs.set(ws, this.o.clock.now()));
    ws.on('close', () => {
      onClose();
      this.pongs.delete(ws);
    });
    ws.on('error', () => undefined);
  }

  private attachMarket(ws: WebSocket, combined: boolean, streams: string[]): void {
    const ms: MarketSocket = {
      ws,
      combined,
      streams: new Set(streams.filter((s) => this.validStream(s)).slice(0, MAX_STREAMS)),
      msgWindow: 0,
      msgCount: 0,
    };
    this.market.add(ms);
    this.track(ws, () => this.market.delete(ms));
    ws.on('message', (data) => {
      const sec = Math.floor(this.o.clock.now() / 1000);
      if (sec !== ms.msgWindow) [ms.msgWindow, ms.msgCount] = [sec, 0];
      if (++ms.msgCount > MAX_MESSAGES_PER_SECOND) ws.close(1008, 'too many messages');
      else this.onMarketMessage(ms, String(data));
    });
  }

  private onMarketMessage(ms: MarketSocket, text: string): void {
    let msg: { method?: unknown; params?: unknown; id?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      send(ms.ws, JSON.stringify({ code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }));
      return;
    }
    const id = msg.id ?? null;
    const list = Array.isArray(msg.params) ? msg.params.filter((x): x is string => typeof x === 'string') : [];
    const reply = (body: object): void => send(ms.ws, JSON.stringify({ ...body, id }));
    switch (msg.method) {
      case 'SUBSCRIBE':
        if (list.some((x) => !this.validStream(x))) return reply({ code: 2, msg: `Invalid request: unknown stream` });
        for (const x of list) if (ms.streams.size < MAX_STREAMS) ms.streams.add(x);
        return reply({ result: null });
      case 'UNSUBSCRIBE':
        for (const x of list) ms.streams.delete(x);
        return reply({ result: null });
      case 'LIST_SUBSCRIPTIONS':
        return reply({ result: [...ms.streams] });
      case 'SET_PROPERTY':
        if (list[0] === 'combined') ms.combined = (msg.params as unknown[])[1] === true;
        return reply({ result: null });
      case 'GET_PROPERTY':
        return reply({ result: ms.combined });
      default:
        return reply({ code: 2, msg: 'Invalid request: unknown method' });
    }
  }

  private attachUser(ws: WebSocket, uk: UserKey): void {
    uk.sockets.add(ws);
    this.track(ws, () => uk.sockets.delete(ws));
    ws.on('message', () => undefined);
  }
}

function send(ws: WebSocket, text: string): void {
  if (ws.readyState === ws.OPEN) ws.send(text);
}
