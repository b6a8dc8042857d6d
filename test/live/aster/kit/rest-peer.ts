import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { recoverTypedDataAddress, type Hex } from 'viem';

/**
 * A small Aster-speaking HTTP peer on 127.0.0.1 for client tests: routes are scripted per test,
 * every request is recorded raw, and signatures are verified the way the exchange does (V1:
 * HMAC over raw query + raw body; V3: EIP-712 signer recovery over the raw parameter string).
 */

export interface PeerRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly rawBody: string;
  readonly params: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
}

export interface PeerReply {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** never answer (the client must time out) */
  readonly hang?: boolean;
}

export type PeerHandler = (req: PeerRequest) => PeerReply | Promise<PeerReply>;

export type PeerAuth =
  { kind: 'hmac'; apiKey: string; secretKey: string } | { kind: 'eip712'; signer: string; chainId: number };

export class RestPeer {
  readonly requests: PeerRequest[] = [];
  private readonly routes = new Map<string, PeerHandler[]>();
  private readonly server: Server;
  private weight = 0;
  url = '';

  constructor(private readonly auth?: PeerAuth) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, Buffer.concat(chunks).toString('utf8')).then((reply) => {
          if (reply.hang) return;
          this.weight += 1;
          const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
          res.writeHead(reply.status ?? 200, {
            'Content-Type': 'application/json',
            'X-MBX-USED-WEIGHT-1M': String(this.weight),
            ...reply.headers,
          });
          res.end(body);
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** queue handlers for a route; the last one stays for later calls */
  on(method: string, path: string, ...handlers: PeerHandler[]): this {
    this.routes.set(`${method} ${path}`, handlers);
    return this;
  }

  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }

  private async handle(req: IncomingMessage, rawBody: string): Promise<PeerReply> {
    const [path = '', rawQuery = ''] = (req.url ?? '').split('?', 2);
    const params: Record<string, string> = {};
    for (const raw of [rawBody, rawQuery]) for (const [k, v] of new URLSearchParams(raw)) params[k] = v;
    const request: PeerRequest = { method: req.method ?? '', path, rawQuery, rawBody, params, headers: req.headers };
    this.requests.push(request);
    if (this.auth && params.signature !== undefined) {
      const bad = await this.verify(request);
      if (bad) return bad;
    }
    const handlers = this.routes.get(`${request.method} ${path}`);
    if (!handlers || handlers.length === 0) return { status: 404, body: { code: -1, msg: `no route ${path}` } };
    const h = handlers.length > 1 ? handlers.shift()! : handlers[0]!;
    return h(request);
  }

  private async verify(r: PeerRequest): Promise<PeerReply | undefined> {
    const strip = (s: string) => s.replace(/&?signature=[^&]*$/, '');
    const invalid = { status: 400, body: { code: -1022, msg: 'Signature for this request is not valid.' } };
    const auth = this.auth!;
    if (auth.kind === 'hmac') {
      if (r.headers['x-mbx-apikey'] !== auth.apiKey)
        return { status: 401, body: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } };
      const total = strip(r.rawQuery) + strip(r.rawBody);
      const expect = createHmac('sha256', auth.secretKey).update(total).digest('hex');
      return expect === r.params.signature ? undefined : invalid;
    }
    const msg = r.rawQuery.includes('signature=') ? strip(r.rawQuery) : strip(r.rawBody);
    const recovered = await recoverTypedDataAddress({
      domain: {
        name: 'AsterSignTransaction',
        version: '1',
        chainId: auth.chainId,
        verifyingContract: '0x0000000000000000000000000000000000000000',
      },
      types: { Message: [{ name: 'msg', type: 'string' }] },
      primaryType: 'Message',
      message: { msg },
      signature: r.params.signature as Hex,
    });
    return recovered.toLowerCase() === auth.signer.toLowerCase() && r.params.signer === auth.signer
      ? undefined
      : invalid;
  }
}

/** exchangeInfo with the real BTCUSDT/ETHUSDT filters of the 2026-01-12 capture (reference §2.1) */
export const EXCHANGE_INFO = {
  timezone: 'UTC',
  serverTime: 1768185214423,
  symbols: [
    {
      symbol: 'BTCUSDT',
      status: 'TRADING',
      pricePrecision: 1,
      quantityPrecision: 3,
      filters: [
        { minPrice: '1', maxPrice: '1000000', filterType: 'PRICE_FILTER', tickSize: '0.1' },
        { stepSize: '0.001', filterType: 'LOT_SIZE', maxQty: '1000', minQty: '0.001' },
        { stepSize: '0.001', filterType: 'MARKET_LOT_SIZE', maxQty: '120', minQty: '0.001' },
        { limit: 200, filterType: 'MAX_NUM_ORDERS' },
        { notional: '5', filterType: 'MIN_NOTIONAL' },
        { multiplierDown: '0.9800', multiplierUp: '1.0200', multiplierDecimal: '4', filterType: 'PERCENT_PRICE' },
      ],
    },
    {
      symbol: 'ETHUSDT',
      status: 'TRADING',
      pricePrecision: '2',
      quantityPrecision: '3',
      filters: [
        { minPrice: '39.90', maxPrice: '306177', filterType: 'PRICE_FILTER', tickSize: '0.10' },
        { stepSize: '0.001', filterType: 'LOT_SIZE', maxQty: '10000', minQty: '0.001' },
        { stepSize: '0.001', filterType: 'MARKET_LOT_SIZE', maxQty: '2000', minQty: '0.001' },
        { notional: '5', filterType: 'MIN_NOTIONAL' },
        { multiplierDown: '0.9800', multiplierUp: '1.0200', multiplierDecimal: '4', filterType: 'PERCENT_PRICE' },
      ],
    },
  ],
};

/** an order object as the exchange returns it, from the request params */
export function orderReply(p: Record<string, string>, status = 'NEW', orderId = 1): Record<string, unknown> {
  return {
    orderId,
    symbol: p.symbol,
    status,
    clientOrderId: p.newClientOrderId ?? p.origClientOrderId ?? 'x',
    price: p.price ?? '0',
    avgPrice: '0.00000',
    origQty: p.quantity ?? '0',
    executedQty: '0',
    cumQuote: '0',
    timeInForce: p.timeInForce ?? 'GTC',
    type: p.type ?? 'MARKET',
    reduceOnly: p.reduceOnly === 'true',
    closePosition: p.closePosition === 'true',
    side: p.side ?? 'BUY',
    positionSide: 'BOTH',
    stopPrice: p.stopPrice ?? '0',
    workingType: 'CONTRACT_PRICE',
    origType: p.type ?? 'MARKET',
    updateTime: 1737990000000,
  };
}
