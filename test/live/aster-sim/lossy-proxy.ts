import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP proxy between the client and the exchange simulator that can lose things the
 * way a real network and a real exchange do: forward a request but drop its response (the
 * exchange acted, the client never hears), or answer in the exchange's place without forwarding
 * (an order lookup that misses because the exchange has not indexed the order yet, a 418 without
 * Retry-After). Everything else passes through untouched, raw bytes and headers included.
 */

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly params: URLSearchParams;
}

export type ProxyAction =
  | 'forward'
  /** forward to the exchange, then destroy the client's socket instead of answering */
  | 'drop-response'
  /** answer here; the exchange never sees the request */
  | { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> };

export interface LossyProxy {
  readonly url: string;
  /** every request that reached the proxy, in order, with what was done to it */
  readonly log: { method: string; path: string; action: string; clientOrderId: string | null }[];
  close(): Promise<void>;
}

export async function startLossyProxy(
  targetUrl: string,
  rule: (req: ProxiedRequest) => ProxyAction,
): Promise<LossyProxy> {
  const target = new URL(targetUrl);
  const log: LossyProxy['log'] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const [path = '', query = ''] = (req.url ?? '').split('?', 2);
      const params = new URLSearchParams(query);
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
      const method = req.method ?? 'GET';
      const action = rule({ method, path, params });
      log.push({
        method,
        path,
        action: typeof action === 'string' ? action : `answer ${action.status}`,
        clientOrderId: params.get('newClientOrderId') ?? params.get('origClientOrderId'),
      });
      if (typeof action !== 'string') {
        res.writeHead(action.status, { 'Content-Type': 'application/json', ...action.headers });
        res.end(JSON.stringify(action.body));
        return;
      }
      const upstream = request(
        {
          hostname: target.hostname,
          port: target.port,
          path: req.url,
          method,
          headers: { ...req.headers, host: target.host },
        },
        (up) => {
          const upChunks: Buffer[] = [];
          up.on('data', (c: Buffer) => upChunks.push(c));
          up.on('end', () => {
            if (action === 'drop-response') {
              // the exchange has processed the request; the client's connection dies unanswered
              req.socket.destroy();
              return;
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(upChunks));
          });
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
