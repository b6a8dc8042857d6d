import type { Order } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import type { NewOrderRequest } from '../aster/order-precision.ts';
import type { NewOrderResult } from '../aster/rest-client.ts';
import type { AsterOrder } from '../aster/schemas.ts';
import type { DecisionRecord, OrderRequest } from './orchestrator-app.ts';

/** What the orchestrator did with one order. */
export type RouteResult =
  | {
      readonly status: 'routed';
      readonly clientOrderId: string;
      readonly orderId: string;
      readonly venueStatus: string;
      readonly executedQty: number;
      readonly avgPrice: number;
    }
  | { readonly status: 'duplicate'; readonly clientOrderId: string }
  | { readonly status: 'halted'; readonly reason: string }
  | {
      readonly status: 'denied';
      readonly rule: string;
      readonly value: number;
      readonly limit: number;
      readonly detail: string;
    }
  | { readonly status: 'invalid'; readonly issues: readonly { path: string; message: string }[] }
  /** the venue refused it (EXCHANGE_REJECTED) or the outcome is unknown; `unreachable`: no answer from the orchestrator */
  | { readonly status: 'rejected' | 'error' | 'unreachable'; readonly error: string };

export interface OrchestratorClientOptions {
  /** ORCHESTRATOR_URL */
  readonly baseUrl: string;
  readonly botId: string;
  /** ADMIN_API_TOKEN of the orchestrator */
  readonly adminToken: string;
  readonly fetch?: typeof fetch;
  /** per request, default 10 s */
  readonly timeoutMs?: number;
}

/**
 * How a bot routes orders through the orchestrator instead of the exchange. Safe to retry with
 * the same client order id after `unreachable`: the orchestrator routes an id at most once.
 * The token is sent as a Bearer header only, and never appears in results or errors.
 */
export class OrchestratorClient {
  readonly #base: string;
  readonly #botId: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: OrchestratorClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    this.#botId = opts.botId;
    this.#token = opts.adminToken;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  get botId(): string {
    return this.#botId;
  }

  async placeOrder(order: OrderRequest): Promise<RouteResult> {
    const r = await this.#request('POST', `/order/${encodeURIComponent(this.#botId)}`, order);
    if (r === undefined) return { status: 'unreachable', error: 'ORCHESTRATOR_UNREACHABLE' };
    const body = r.body as Record<string, unknown>;
    if (r.status === 400) {
      return { status: 'invalid', issues: Array.isArray(body.issues) ? (body.issues as []) : [] };
    }
    const status = body.status;
    if (
      status === 'routed' ||
      status === 'duplicate' ||
      status === 'halted' ||
      status === 'denied' ||
      status === 'rejected' ||
      status === 'error'
    ) {
      return body as RouteResult;
    }
    return { status: 'error', error: `HTTP_${r.status}` };
  }

  /** Cancels one order this bot routed. Throws EXCHANGE_REJECTED / EXCHANGE_UNAVAILABLE when it did not happen. */
  async cancelOrder(symbol: string, clientOrderId: string): Promise<void> {
    const r = await this.#request('POST', `/cancel/${encodeURIComponent(this.#botId)}`, { symbol, clientOrderId });
    if (r === undefined) throw new SapphireError('EXCHANGE_UNAVAILABLE', 'the orchestrator did not answer');
    const status = (r.body as { status?: unknown }).status;
    if (status === 'cancelled') return;
    const code = r.status >= 500 ? 'EXCHANGE_UNAVAILABLE' : 'EXCHANGE_REJECTED';
    throw new SapphireError(
      code,
      `cancel ${clientOrderId}: orchestrator answered ${String(status)} (HTTP ${r.status})`,
    );
  }

  async registerDecision(d: Omit<DecisionRecord, 'botId'>): Promise<string> {
    const r = await this.#request('POST', '/register_decision', { ...d, botId: this.#botId });
    if (r === undefined) throw new SapphireError('EXCHANGE_UNAVAILABLE', 'the orchestrator did not answer');
    if (r.status !== 200) throw new SapphireError('EXCHANGE_REJECTED', `register_decision: HTTP ${r.status}`);
    return String((r.body as { decisionId?: unknown }).decisionId);
  }

  async emergencyStop(): Promise<{ status: number; body: unknown }> {
    const r = await this.#request('POST', '/emergency_stop', {});
    if (r === undefined) throw new SapphireError('EXCHANGE_UNAVAILABLE', 'the orchestrator did not answer');
    return r;
  }

  async portfolio(): Promise<unknown> {
    const r = await this.#request('GET', '/portfolio');
    if (r === undefined) throw new SapphireError('EXCHANGE_UNAVAILABLE', 'the orchestrator did not answer');
    if (r.status !== 200) throw new SapphireError('EXCHANGE_UNAVAILABLE', `portfolio: HTTP ${r.status}`);
    return r.body;
  }

  async #request(method: 'GET' | 'POST', path: string, body?: unknown) {
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch {
      return undefined;
    }
    if (res.status === 401 || res.status === 403) {
      throw new SapphireError('NOT_CONFIGURED', `the orchestrator refused this bot's admin token (HTTP ${res.status})`);
    }
    let parsed: unknown = {};
    try {
      parsed = await res.json();
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed };
  }
}

/** A pipeline order as an orchestrator request (protective orders close the whole position). */
export function orderRequestOf(order: Order, extra: { kellyFraction?: number; equity?: number } = {}): OrderRequest {
  const closePosition = order.type !== 'MARKET' && order.quantity === 0;
  return {
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    quantity: order.quantity,
    clientOrderId: order.clientOrderId,
    reduceOnly: order.reduceOnly && !closePosition,
    ...(closePosition ? { closePosition: true } : {}),
    ...(order.type !== 'MARKET' ? { stopPrice: order.stopPrice } : {}),
    ...(extra.kellyFraction !== undefined ? { kellyFraction: extra.kellyFraction } : {}),
    ...(extra.equity !== undefined ? { equity: extra.equity } : {}),
  };
}

const ROUTED_TYPES = new Set(['MARKET', 'LIMIT', 'STOP_MARKET', 'TAKE_PROFIT_MARKET']);

/** The order calls of the Aster execution port, served through the orchestrator instead of the exchange. */
export interface RoutedOrderApi {
  newOrder(req: NewOrderRequest): Promise<NewOrderResult>;
  cancelOrder(q: { symbol: string; origClientOrderId: string }): Promise<unknown>;
}

/**
 * Lets the live execution port route through the orchestrator (ORCHESTRATOR_URL): same request
 * and result shapes as AsterRestClient. Fills still come from the exchange's user-data stream.
 * A duplicate or an unanswered request is `unknown` (the order may exist; never re-sent blind);
 * halted, denied and refused orders are `rejected`.
 */
export function orchestratorOrderApi(
  client: OrchestratorClient,
  extra: () => { kellyFraction?: number; equity?: number } = () => ({}),
): RoutedOrderApi {
  return {
    async newOrder(req: NewOrderRequest): Promise<NewOrderResult> {
      if (!ROUTED_TYPES.has(req.type)) {
        return {
          status: 'rejected',
          stage: 'exchange',
          reason: `${req.type} orders are not routed by the orchestrator`,
        };
      }
      const closePosition = req.closePosition === true;
      const body: OrderRequest = {
        symbol: req.symbol,
        side: req.side,
        type: req.type as OrderRequest['type'],
        quantity: closePosition ? 0 : (req.quantity ?? 0),
        clientOrderId: req.newClientOrderId,
        reduceOnly: !closePosition && req.reduceOnly === true,
        ...(closePosition ? { closePosition: true } : {}),
        ...(req.price !== undefined ? { price: req.price } : {}),
        ...(req.stopPrice !== undefined ? { stopPrice: req.stopPrice } : {}),
        ...(req.type === 'LIMIT' && req.timeInForce !== undefined ? { timeInForce: req.timeInForce } : {}),
        ...extra(),
      };
      const r = await client.placeOrder(body);
      switch (r.status) {
        case 'routed': {
          const order: AsterOrder = {
            orderId: Number(r.orderId),
            symbol: req.symbol,
            status: r.venueStatus,
            clientOrderId: r.clientOrderId,
            type: req.type,
            side: req.side,
            origQty: body.quantity,
            executedQty: r.executedQty,
            avgPrice: r.avgPrice,
            reduceOnly: body.reduceOnly,
            closePosition,
          };
          return { status: 'accepted', order, recovered: false };
        }
        case 'duplicate':
          return { status: 'unknown', reason: 'the orchestrator already routed this client order id' };
        case 'halted':
          return { status: 'rejected', stage: 'exchange', reason: `orchestrator halted (${r.reason})` };
        case 'denied':
          return { status: 'rejected', stage: 'exchange', reason: `orchestrator denied: ${r.rule} ${r.detail}` };
        case 'invalid':
          return {
            status: 'rejected',
            stage: 'exchange',
            reason: `orchestrator refused the request: ${r.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`,
          };
        case 'rejected':
          return { status: 'rejected', stage: 'exchange', reason: `the exchange refused it (${r.error})` };
        case 'error':
        case 'unreachable':
          return { status: 'unknown', reason: `no outcome from the orchestrator (${r.error})` };
      }
    },
    async cancelOrder(q) {
      await client.cancelOrder(q.symbol, q.origClientOrderId);
      return {};
    },
  };
}
