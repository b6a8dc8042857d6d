import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REPO } from '../../../kit/cli.ts';

/**
 * A small Aster-compatible REST peer on 127.0.0.1 speaking the calls the orchestrator uses
 * (V1 HMAC, signatures verified on the raw bytes): exchangeInfo (the real 2026-01-12 file),
 * premiumIndex, order (new/query), openOrders, allOpenOrders, positionRisk, balance, time.
 * MARKET orders fill at the mark; other types rest as open orders. One-way mode, USDT.
 */
export interface PeerCall {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface PeerPosition {
  amt: number;
  entry: number;
}

export interface PeerOrder {
  orderId: number;
  symbol: string;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: string;
  origQty: number;
  price: number;
  stopPrice: number;
  reduceOnly: boolean;
  status: string;
  executedQty: number;
  avgPrice: number;
}

export interface AsterPeer {
  readonly url: string;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly calls: PeerCall[];
  readonly positions: Map<string, PeerPosition>;
  readonly openOrders: PeerOrder[];
  readonly marks: Map<string, number>;
  wallet: number;
  /** answer the next request to `path` with this HTTP status instead (once) */
  failNext(path: string, status: number): void;
  close(): Promise<void>;
}

const EXCHANGE_INFO = readFileSync(`${REPO}pipelines/aster-exchange-info-2026-01-12.json`, 'utf8');
const KNOWN = new Set((JSON.parse(EXCHANGE_INFO) as { symbols: { symbol: string }[] }).symbols.map((s) => s.symbol));

export async function startAsterPeer(opts: { marks: Record<string, number>; wallet: number }): Promise<AsterPeer> {
  const apiKey = 'peer-test-key';
  const secretKey = 'peer-test-secret-not-real';
  const calls: PeerCall[] = [];
  const positions = new Map<string, PeerPosition>();
  const openOrders: PeerOrder[] = [];
  const allOrders: PeerOrder[] = [];
  const marks = new Map(Object.entries(opts.marks));
  const failures = new Map<string, number>();
  let nextId = 1000;

  const unrealized = (): number => {
    let u = 0;
    for (const [s, p] of positions) u += p.amt * ((marks.get(s) ?? p.entry) - p.entry);
    return u;
  };
  const orderJson = (o: PeerOrder) => ({
    orderId: o.orderId,
    symbol: o.symbol,
    status: o.status,
    clientOrderId: o.clientOrderId,
    price: String(o.price),
    avgPrice: String(o.avgPrice),
    origQty: String(o.origQty),
    executedQty: String(o.executedQty),
    cumQuote: String(o.executedQty * o.avgPrice),
    timeInForce: 'GTC',
    type: o.type,
    reduceOnly: o.reduceOnly,
    closePosition: false,
    side: o.side,
    positionSide: 'BOTH',
    stopPrice: String(o.stopPrice),
    workingType: 'CONTRACT_PRICE',
    origType: o.type,
    updateTime: Date.now(),
  });

  const peer: AsterPeer = {
    url: '',
    apiKey,
    secretKey,
    calls,
    positions,
    openOrders,
    marks,
    wallet: opts.wallet,
    failNext(path, status) {
      failures.set(path, status);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };

  const fill = (symbol: string, side: 'BUY' | 'SELL', qty: number, price: number): void => {
    const signed = side === 'BUY' ? qty : -qty;
    const p = positions.get(symbol) ?? { amt: 0, entry: 0 };
    if (p.amt === 0 || Math.sign(p.amt) === Math.sign(signed)) {
      const amt = p.amt + signed;
      p.entry = (p.entry * Math.abs(p.amt) + price * qty) / Math.abs(amt);
      p.amt = amt;
    } else {
      const closed = Math.min(Math.abs(p.amt), qty);
      peer.wallet += closed * (price - p.entry) * Math.sign(p.amt);
      const amt = p.amt + signed;
      if (Math.abs(amt) < 1e-12) p.amt = 0;
      else if (Math.sign(amt) !== Math.sign(p.amt)) {
        p.amt = amt;
        p.entry = price;
      } else p.amt = amt;
    }
    if (p.amt === 0) positions.delete(symbol);
    else positions.set(symbol, p);
  };

  const handle = (method: string, path: string, params: Record<string, string>) => {
    const err = (status: number, code: number, msg: string) => ({ status, body: { code, msg } });
    const ok = (body: unknown) => ({ status: 200, body });
    const symbol = params.symbol;
    switch (`${method} ${path}`) {
      case 'GET /fapi/v1/time':
        return ok({ serverTime: Date.now() });
      case 'GET /fapi/v1/exchangeInfo':
        return { status: 200, body: EXCHANGE_INFO, raw: true };
      case 'GET /fapi/v1/premiumIndex': {
        const m = symbol === undefined ? undefined : marks.get(symbol);
        if (m === undefined) return err(400, -1121, 'Invalid symbol.');
        return ok({ symbol, markPrice: String(m), indexPrice: String(m), lastFundingRate: '0.0001', time: Date.now() });
      }
      case 'GET /fapi/v2/balance': {
        const u = unrealized();
        return ok([
          {
            accountAlias: 'peer',
            asset: 'USDT',
            balance: String(peer.wallet),
            crossWalletBalance: String(peer.wallet),
            crossUnPnl: String(u),
            availableBalance: String(peer.wallet + u),
            maxWithdrawAmount: String(peer.wallet),
            marginAvailable: true,
            updateTime: Date.now(),
          },
        ]);
      }
      case 'GET /fapi/v2/positionRisk':
        return ok(
          [...positions].map(([s, p]) => ({
            symbol: s,
            positionAmt: String(p.amt),
            entryPrice: String(p.entry),
            markPrice: String(marks.get(s) ?? p.entry),
            unRealizedProfit: String(p.amt * ((marks.get(s) ?? p.entry) - p.entry)),
            liquidationPrice: '0',
            leverage: '10',
            marginType: 'cross',
            positionSide: 'BOTH',
            updateTime: Date.now(),
          })),
        );
      case 'GET /fapi/v1/openOrders':
        return ok(openOrders.filter((o) => symbol === undefined || o.symbol === symbol).map(orderJson));
      case 'DELETE /fapi/v1/allOpenOrders': {
        if (symbol === undefined) return err(400, -1102, "Mandatory parameter 'symbol' was not sent.");
        for (let i = openOrders.length - 1; i >= 0; i--) {
          if (openOrders[i]!.symbol === symbol) {
            openOrders[i]!.status = 'CANCELED';
            openOrders.splice(i, 1);
          }
        }
        return ok({ code: '200', msg: 'The operation of cancel all open order is done.' });
      }
      case 'DELETE /fapi/v1/order': {
        const i = openOrders.findIndex((x) => x.clientOrderId === params.origClientOrderId && x.symbol === symbol);
        if (i < 0) return err(400, -2011, 'Unknown order sent.');
        const [o] = openOrders.splice(i, 1);
        o!.status = 'CANCELED';
        return ok(orderJson(o!));
      }
      case 'GET /fapi/v1/order': {
        const o = allOrders.find((x) => x.clientOrderId === params.origClientOrderId && x.symbol === symbol);
        return o === undefined ? err(400, -2013, 'Order does not exist.') : ok(orderJson(o));
      }
      case 'POST /fapi/v1/order': {
        if (symbol === undefined || !KNOWN.has(symbol)) return err(400, -1121, 'Invalid symbol.');
        const side = params.side === 'SELL' ? 'SELL' : 'BUY';
        const closePosition = params.closePosition === 'true';
        const qty = closePosition ? 0 : Number(params.quantity);
        const id = params.newClientOrderId ?? `peer-${nextId}`;
        if (closePosition && params.type !== 'STOP_MARKET' && params.type !== 'TAKE_PROFIT_MARKET')
          return err(400, -1106, "Parameter 'closePosition' sent when not required.");
        if (!closePosition && !(qty > 0)) return err(400, -1102, 'quantity');
        if (openOrders.some((o) => o.clientOrderId === id)) return err(400, -4116, 'ClientOrderId is duplicated.');
        const reduceOnly = params.reduceOnly === 'true';
        const pos = positions.get(symbol)?.amt ?? 0;
        if (reduceOnly && (pos === 0 || (side === 'BUY') === pos > 0 || qty > Math.abs(pos) + 1e-12)) {
          return err(400, -2022, 'ReduceOnly Order is rejected.');
        }
        const o: PeerOrder = {
          orderId: nextId++,
          symbol,
          clientOrderId: id,
          side,
          type: params.type ?? 'MARKET',
          origQty: qty,
          price: Number(params.price ?? 0),
          stopPrice: Number(params.stopPrice ?? 0),
          reduceOnly,
          status: 'NEW',
          executedQty: 0,
          avgPrice: 0,
        };
        allOrders.push(o);
        const m = marks.get(symbol)!;
        const marketable = o.type === 'LIMIT' && (side === 'BUY' ? o.price >= m : o.price <= m);
        const ioc = params.timeInForce === 'IOC' || params.timeInForce === 'FOK';
        if (o.type === 'MARKET' || (ioc && marketable)) {
          fill(symbol, side, qty, m);
          o.status = 'FILLED';
          o.executedQty = qty;
          o.avgPrice = m;
        } else if (ioc) o.status = 'EXPIRED';
        else openOrders.push(o);
        return ok(orderJson(o));
      }
      default:
        return err(404, -1000, `unknown path ${method} ${path}`);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = req.method ?? 'GET';
      const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const params: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(rawQuery)) params[k] = v;
      for (const [k, v] of new URLSearchParams(rawBody)) params[k] ??= v;
      const send = (status: number, body: unknown, raw = false) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(raw ? (body as string) : JSON.stringify(body));
      };
      calls.push({ method, path: url.pathname, params });
      const forced = failures.get(url.pathname);
      if (forced !== undefined) {
        failures.delete(url.pathname);
        return send(forced, { code: -1001, msg: 'Internal error; unable to process your request.' });
      }
      if (params.signature !== undefined) {
        const total = `${rawQuery}${rawBody}`.replace(/&?signature=[0-9a-fA-F]+$/, '');
        const want = createHmac('sha256', secretKey).update(total).digest();
        const got = Buffer.from(params.signature, 'hex');
        if (req.headers['x-mbx-apikey'] !== apiKey || got.length !== want.length || !timingSafeEqual(got, want)) {
          return send(400, { code: -1022, msg: 'Signature for this request is not valid.' });
        }
      } else if (!['/fapi/v1/time', '/fapi/v1/exchangeInfo', '/fapi/v1/premiumIndex'].includes(url.pathname)) {
        return send(400, { code: -1102, msg: "Mandatory parameter 'signature' was not sent." });
      }
      const r = handle(method, url.pathname, params);
      send(r.status, r.body, 'raw' in r);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  (peer as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return peer;
}
