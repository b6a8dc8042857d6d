import type { Order } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
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
          ...(method === 'POST' ? { 'content-type': 'application/json', authorization: `Bearer ${this.#token}` } : {}),
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
