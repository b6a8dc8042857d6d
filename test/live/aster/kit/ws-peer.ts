import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Bar } from '../../../../pipelines/model/index.ts';

/** A loopback WebSocket peer speaking Aster's stream framing; connections are recorded. */
export class WsPeer {
  readonly connections: { url: string; socket: WebSocket; received: string[] }[] = [];
  private readonly server: WebSocketServer;
  /** refuse the next N upgrades with HTTP 503 */
  refuse = 0;
  url = '';

  constructor() {
    this.server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (_info, cb) => {
        if (this.refuse > 0) {
          this.refuse--;
          cb(false, 503, 'Service Unavailable');
        } else cb(true);
      },
    });
    this.server.on('connection', (socket, req) => {
      const c = { url: req.url ?? '', socket, received: [] as string[] };
      socket.on('message', (d: Buffer) => c.received.push(d.toString('utf8')));
      this.connections.push(c);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => (this.server.address() ? r() : this.server.once('listening', () => r())));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get last(): { url: string; socket: WebSocket; received: string[] } {
    const c = this.connections.at(-1);
    if (!c) throw new Error('no connection');
    return c;
  }

  /** waits (bounded) until `n` connections have been made */
  async waitConnections(n: number, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.connections.length >= n, timeoutMs, `${n} connections`);
    await waitFor(() => this.last.socket.readyState === 1, timeoutMs, 'open socket');
  }

  send(data: unknown, socket: WebSocket = this.last.socket): void {
    socket.send(JSON.stringify(data));
  }
}

/** polls a condition every 5 ms, failing after `timeoutMs` */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** a combined-stream kline frame for a real bar */
export function klineFrame(bar: Bar, closed = true, interval = '5m'): unknown {
  return {
    stream: `${bar.symbol.toLowerCase()}@kline_${interval}`,
    data: {
      e: 'kline',
      E: bar.time,
      s: bar.symbol,
      k: {
        t: bar.openTime,
        T: bar.time - 1,
        s: bar.symbol,
        i: interval,
        f: 1,
        L: 2,
        o: String(bar.open),
        c: String(bar.close),
        h: String(bar.high),
        l: String(bar.low),
        v: String(bar.volume),
        // the fixture bars have no order flow: sent as null, as the simulator does over such data
        n: bar.trades ?? null,
        x: closed,
        q: flowText(bar.quoteVolume),
        V: flowText(bar.takerBuyVolume),
        Q: flowText(bar.takerBuyQuoteVolume),
        B: '0',
      },
    },
  };
}

/** REST kline rows for real bars */
export function klineRows(bars: readonly Bar[]): unknown[] {
  return bars.map((b) => [
    b.openTime,
    String(b.open),
    String(b.high),
    String(b.low),
    String(b.close),
    String(b.volume),
    b.time - 1,
    flowText(b.quoteVolume),
    b.trades ?? null,
    flowText(b.takerBuyVolume),
    flowText(b.takerBuyQuoteVolume),
    '0',
  ]);
}

const flowText = (x: number | undefined): string | null => (x === undefined ? null : String(x));
