import { nodeFetch } from './node-transport.ts';
import type { z } from 'zod';
import type { SymbolFilters } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import {
  ASTER_CHAIN_ID,
  MicrosecondNonce,
  eip712Signature,
  encodeParams,
  hmacSignature,
  redact,
  type Params,
} from './signing.ts';
import {
  AccountSchema,
  BalanceSchema,
  CodeMsgSchema,
  CommissionRateSchema,
  DepthSchema,
  ExchangeInfoSchema,
  FundingRateSchema,
  KlinesSchema,
  LeverageSchema,
  ListenKeySchema,
  OrderSchema,
  OrdersSchema,
  PositionRiskSchema,
  PremiumIndexSchema,
  ServerTimeSchema,
  Ticker24hSchema,
  toSymbolFilters,
  type AsterOrder,
  type Kline,
  type SymbolInfo,
  UserTradesSchema,
  IncomesSchema,
  type AsterUserTrade,
  type AsterIncome,
} from './schemas.ts';
import { prepareOrder, type NewOrderRequest, type PrecisionRule } from './order-precision.ts';
import { backoffDelay } from '../../pipelines/backoff.ts';
import { sleep } from '../../runtime/timers.ts';

export type AsterCredentials =
  | { readonly kind: 'hmac'; readonly apiKey: string; readonly secretKey: string }
  | {
      readonly kind: 'eip712';
      readonly user: string;
      readonly signer: string;
      readonly privateKey: string;
      /** 1666 mainnet, 714 testnet */
      readonly chainId?: number;
    };

export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  /** HTTP status, 0 when no answer came (timeout, network) */
  readonly status: number;
  readonly latencyMs: number;
  /** X-MBX-USED-WEIGHT-1M after this request (last known when absent) */
  readonly weight: number;
}

export interface AsterRestClientOptions {
  readonly baseUrl: string;
  readonly credentials?: AsterCredentials;
  /** V1 recvWindow (ms); default 5000 */
  readonly recvWindow?: number;
  /** wall clock in ms; default Date.now */
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  /** per-request timeout; default 10 s */
  readonly timeoutMs?: number;
  /** waiting (back-off); default a real timer */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRequest?: (info: RequestInfo) => void;
  /** how many times a 429 is backed off and retried before giving up; default 3 */
  readonly maxRateLimitRetries?: number;
  /** back-off after a 429 without Retry-After; default 1000 ms, doubled per retry */
  readonly rateLimitBackoffMs?: number;
  /** REQUEST_WEIGHT per minute (exchangeInfo rateLimits); default 2400, 0 = no throttling */
  readonly weightLimit?: number;
  /** share of the limit after which requests wait for the next minute; default 0.95 */
  readonly weightHeadroom?: number;
  /**
   * transient failures (timeouts, 5xx, 429) tolerated while looking up an order whose outcome is
   * unknown before it is reported 'unknown'; default 3
   */
  readonly unknownOrderQueries?: number;
  /**
   * "order does not exist" (-2013) answers needed before an order whose outcome is unknown counts
   * as absent (and may be re-sent): the exchange can answer a lookup before it has indexed an
   * order it just accepted; default 3
   */
  readonly absentLookups?: number;
  /** wait between those lookups: absence is declared no sooner than (absentLookups − 1) × this; default 1000 ms */
  readonly absentLookupSpacingMs?: number;
  /** how long a 418 without Retry-After bans the client before it tries again; default 120 000 ms (Aster's shortest ban) */
  readonly banDefaultMs?: number;
}

/** Defaults of the unknown-outcome and ban rules (documented on the options above). */
export const ORDER_LOOKUP_DEFAULTS = {
  unknownOrderQueries: 3,
  absentLookups: 3,
  absentLookupSpacingMs: 1000,
  banDefaultMs: 120_000,
} as const;

/** the exchange's "order does not exist" */
export const NO_SUCH_ORDER = -2013;
/** the exchange's "client order id is duplicated": an order with this id exists */
export const DUPLICATE_CLIENT_ORDER_ID = -4116;

/** the exchange's definite answer that no order has this id */
export function isNoSuchOrder(e: unknown): boolean {
  return e instanceof AsterApiError && e.exchangeCode === NO_SUCH_ORDER;
}

/** the exchange's refusal to cancel an order it does not hold open ("Unknown order sent."): it is not working */
export const CANCEL_UNKNOWN_ORDER = -2011;

export function isUnknownOrderCancel(e: unknown): boolean {
  return e instanceof AsterApiError && e.exchangeCode === CANCEL_UNKNOWN_ORDER;
}

/** no answer, or an answer that says nothing about the request (5xx, rate limit): ask again later */
export function isTransientExchangeError(e: unknown): boolean {
  if (e instanceof AsterApiError) return e.httpStatus === 429 || e.httpStatus >= 500;
  return e instanceof SapphireError && e.code === 'EXCHANGE_UNAVAILABLE';
}

type Security = 'NONE' | 'SIGNED' | 'USER_STREAM';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The exchange answered with an error (code and message as sent). */
export class AsterApiError extends SapphireError {
  constructor(
    readonly httpStatus: number,
    readonly exchangeCode: number,
    readonly exchangeMessage: string,
    path: string,
  ) {
    super('EXCHANGE_REJECTED', `${path}: HTTP ${httpStatus} code ${exchangeCode} ${exchangeMessage}`);
  }
}

export type NewOrderResult =
  | { readonly status: 'accepted'; readonly order: AsterOrder; readonly recovered: boolean }
  | {
      readonly status: 'rejected';
      readonly stage: 'precision' | 'duplicate-id' | 'exchange';
      readonly rule?: PrecisionRule;
      readonly code?: number;
      readonly reason: string;
    }
  /** no answer and no trace of the order after querying: it is NOT re-sent automatically */
  | { readonly status: 'unknown'; readonly reason: string };

export interface NewOrderOptions {
  /** mark price for PERCENT_PRICE and market notional; fetched from premiumIndex when needed and absent */
  readonly markPrice?: number;
  /**
   * this client order id may have been sent before (by an earlier process): look it up first
   * (the same rule as an unknown outcome) and send only if the exchange says it does not exist
   */
  readonly maybeSent?: boolean;
}

export interface ClockSync {
  readonly offsetMs: number;
  readonly roundTripMs: number;
}

interface Intent {
  readonly fingerprint: string;
  state: 'sending' | 'accepted' | 'rejected' | 'unknown';
}

/**
 * Aster futures REST client, V1 (HMAC) or V3 (EIP-712) by credentials. Every payload is parsed
 * leniently; exchange errors become AsterApiError, unanswered requests EXCHANGE_UNAVAILABLE, a
 * 418 EXCHANGE_BANNED (and every later call fails the same way without a request until the ban's
 * Retry-After, or banDefaultMs without one, has passed).
 */
export class AsterRestClient {
  private readonly baseUrl: string;
  private readonly now: () => number;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly nonce: MicrosecondNonce;
  private readonly secrets: string[];
  private readonly v3: boolean;
  private offsetMs = 0;
  private usedWeight = 0;
  private weightMinute = 0;
  private backoffUntil = 0;
  private bannedReason: string | null = null;
  /** a 418 ends at its Retry-After, or after banDefaultMs without one */
  private bannedUntil = 0;
  private infoCache: Map<string, { info: SymbolInfo; filters: SymbolFilters }> | null = null;
  /** clientOrderId → fingerprint of the intent that used it */
  private readonly intents = new Map<string, Intent>();
  readonly counters = {
    requests: 0,
    errors: 0,
    rateLimited: 0,
    timeouts: 0,
    resyncs: 0,
    unknownOrders: 0,
    throttled: 0,
  };

  constructor(private readonly opts: AsterRestClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.now = opts.now ?? Date.now;
    this.fetchImpl = opts.fetch ?? nodeFetch;
    this.sleep = opts.sleep ?? sleep;
    this.nonce = new MicrosecondNonce(() => this.serverNow());
    this.v3 = opts.credentials?.kind === 'eip712';
    const c = opts.credentials;
    this.secrets = c === undefined ? [] : c.kind === 'hmac' ? [c.apiKey, c.secretKey] : [c.privateKey];
  }

  /** last X-MBX-USED-WEIGHT-1M seen */
  get weight(): number {
    return this.usedWeight;
  }
  get clockOffsetMs(): number {
    return this.offsetMs;
  }
  get banned(): boolean {
    return this.bannedReason !== null && this.now() < this.bannedUntil;
  }
  /** how long the current ban (418) still lasts; 0 when not banned */
  get banRemainingMs(): number {
    return this.banned ? this.bannedUntil - this.now() : 0;
  }
  /** our estimate of the exchange's clock */
  serverNow(): number {
    return this.now() + this.offsetMs;
  }

  // ---------------------------------------------------------------- market data

  async time(): Promise<number> {
    const r = await this.call('GET', this.p('time'), {}, 'NONE', ServerTimeSchema);
    return r.serverTime;
  }

  /**
   * Measures the offset between the exchange clock and ours (midpoint of the round trip); V1
   * timestamps and V3 nonces follow it. Call it before the first signed request; the client
   * calls it again on a clock error (-1021 / -4225), whichever way our clock is off.
   */
  async syncTime(): Promise<ClockSync> {
    const t0 = this.now();
    const server = await this.time();
    const t1 = this.now();
    const before = this.serverNow();
    this.offsetMs = server - (t0 + t1) / 2;
    // the estimate of the exchange's clock went back: nonces must follow it back
    if (this.serverNow() < before) this.nonce.rebase();
    return { offsetMs: this.offsetMs, roundTripMs: t1 - t0 };
  }

  /** filters of every symbol, cached after the first call (`refresh` to reload) */
  async exchangeInfo(refresh = false): Promise<ReadonlyMap<string, SymbolFilters>> {
    if (this.infoCache === null || refresh) {
      const r = await this.call('GET', this.p('exchangeInfo'), {}, 'NONE', ExchangeInfoSchema);
      const m = new Map<string, { info: SymbolInfo; filters: SymbolFilters }>();
      for (const s of r.symbols) m.set(s.symbol, { info: s, filters: toSymbolFilters(s) });
      this.infoCache = m;
    }
    return new Map([...this.infoCache].map(([k, v]) => [k, v.filters]));
  }

  async filters(symbol: string): Promise<SymbolFilters> {
    if (this.infoCache === null || !this.infoCache.has(symbol)) await this.exchangeInfo(this.infoCache !== null);
    const f = this.infoCache?.get(symbol);
    if (f === undefined) throw new SapphireError('DATA_NOT_FOUND', `symbol ${symbol} is not in exchangeInfo`);
    return f.filters;
  }

  async klines(q: {
    symbol: string;
    interval: string;
    startTime?: number;
    endTime?: number;
    limit?: number;
  }): Promise<Kline[]> {
    return this.call('GET', this.p('klines'), { ...q }, 'NONE', KlinesSchema);
  }

  async premiumIndex(symbol: string) {
    return this.call('GET', this.p('premiumIndex'), { symbol }, 'NONE', PremiumIndexSchema);
  }

  async fundingRate(q: { symbol: string; startTime?: number; endTime?: number; limit?: number }) {
    return this.call('GET', this.p('fundingRate'), { ...q }, 'NONE', FundingRateSchema);
  }

  async ticker24h(symbol: string) {
    return this.call('GET', this.p('ticker/24hr'), { symbol }, 'NONE', Ticker24hSchema);
  }

  async depth(symbol: string, limit?: 5 | 10 | 20 | 50 | 100 | 500 | 1000) {
    return this.call('GET', this.p('depth'), { symbol, limit }, 'NONE', DepthSchema);
  }

  // ---------------------------------------------------------------- orders

  /**
   * Sends a new order after checking it against the symbol's filters (a failing order is never
   * sent). A client order id is bound to its first intent: reusing it for a different order is
   * refused. When the send times out or the exchange answers 5xx, the order is looked up by its
   * client id before anything else; it is re-sent (same id) only if the exchange says it does not
   * exist, and is otherwise reported as 'unknown' — never sent blind.
   */
  async newOrder(req: NewOrderRequest, options: NewOrderOptions = {}): Promise<NewOrderResult> {
    const filters = await this.filters(req.symbol);
    let mark = options.markPrice;
    const needsMark = req.type !== 'LIMIT' && req.type !== 'STOP' && req.type !== 'TAKE_PROFIT';
    if (mark === undefined && (needsMark || req.type === 'LIMIT') && req.closePosition !== true)
      mark = (await this.premiumIndex(req.symbol)).markPrice;
    const prepared = prepareOrder(req, filters, mark);
    if (!prepared.ok) return { status: 'rejected', stage: 'precision', rule: prepared.rule, reason: prepared.reason };

    const fingerprint = JSON.stringify({ ...prepared.params, newClientOrderId: undefined });
    const previous = this.intents.get(req.newClientOrderId);
    if (previous !== undefined && previous.fingerprint !== fingerprint)
      return {
        status: 'rejected',
        stage: 'duplicate-id',
        reason: `client order id ${req.newClientOrderId} was already used for a different order`,
      };
    if (previous?.state === 'accepted' || previous?.state === 'sending')
      return {
        status: 'rejected',
        stage: 'duplicate-id',
        reason: `client order id ${req.newClientOrderId} was already ${previous.state === 'accepted' ? 'accepted' : 'sent'}`,
      };
    const intent: Intent = { fingerprint, state: 'sending' };
    this.intents.set(req.newClientOrderId, intent);
    const settle = (r: NewOrderResult): NewOrderResult => {
      intent.state = r.status === 'accepted' ? 'accepted' : r.status === 'unknown' ? 'unknown' : 'rejected';
      return r;
    };

    if (previous?.state === 'unknown' || (previous === undefined && options.maybeSent === true)) {
      // an earlier attempt may have reached the exchange: look before sending again
      const found = await this.lookUpOrder(req.symbol, req.newClientOrderId);
      if (found === 'unknown') return settle({ status: 'unknown', reason: 'earlier attempt still unknown' });
      if (found !== 'absent') return settle(this.existing(req, found));
    }

    const maxSends = 2;
    try {
      for (let send = 1; ; send++) {
        try {
          // a re-send always carries the same client order id (prepared.params holds it)
          const order = await this.call('POST', this.p('order'), prepared.params, 'SIGNED', OrderSchema);
          return settle({ status: 'accepted', order, recovered: send > 1 });
        } catch (e) {
          if (e instanceof AsterApiError && this.isDuplicateId(e)) {
            // the exchange holds an order with this id: that order is the answer, not a rejection
            const found = await this.lookUpOrder(req.symbol, req.newClientOrderId, { existsForSure: true });
            if (typeof found === 'string') {
              this.counters.unknownOrders++;
              return settle({
                status: 'unknown',
                reason: `the exchange says ${req.newClientOrderId} exists (${e.exchangeCode}) but it could not be fetched`,
              });
            }
            return settle(this.existing(req, found));
          }
          if (e instanceof AsterApiError)
            return settle({
              status: 'rejected',
              stage: 'exchange',
              code: e.exchangeCode,
              reason: `${e.exchangeCode} ${e.exchangeMessage}`,
            });
          if (!(e instanceof SapphireError) || e.code !== 'EXCHANGE_UNAVAILABLE') throw e;
          // outcome unknown: find out before doing anything else; one "does not exist" is not
          // enough (the exchange may not have indexed the order yet)
          const found = await this.lookUpOrder(req.symbol, req.newClientOrderId);
          if (found === 'unknown') {
            this.counters.unknownOrders++;
            return settle({ status: 'unknown', reason: `no answer to the order nor to its query: ${e.message}` });
          }
          if (found !== 'absent') return settle(this.existing(req, found));
          if (send >= maxSends) {
            this.counters.unknownOrders++;
            return settle({ status: 'unknown', reason: `order not acknowledged after ${send} sends: ${e.message}` });
          }
        }
      }
    } catch (e) {
      // banned or a broken payload: the order may exist, so the id stays blocked until looked up
      intent.state = 'unknown';
      throw e;
    }
  }

  private isDuplicateId(e: AsterApiError): boolean {
    return e.exchangeCode === DUPLICATE_CLIENT_ORDER_ID || /client\s*order\s*id.*duplicat/i.test(e.exchangeMessage);
  }

  /** an order found under the request's client id is the answer, unless it is plainly another order */
  private existing(req: NewOrderRequest, order: AsterOrder): NewOrderResult {
    const type = order.origType ?? order.type;
    if (order.symbol !== req.symbol || order.side !== req.side || type !== req.type)
      return {
        status: 'rejected',
        stage: 'duplicate-id',
        reason: `the exchange holds another order under ${req.newClientOrderId}: ${order.symbol} ${order.side} ${type} (#${order.orderId})`,
      };
    return { status: 'accepted', order, recovered: true };
  }

  /**
   * What the exchange says about an order by client id: the order; 'absent' only after
   * `absentLookups` "does not exist" answers spaced `absentLookupSpacingMs` apart (an order just
   * accepted may not be indexed yet); 'unknown' when transient failures (timeouts, 5xx, 429) used
   * up `unknownOrderQueries` first. A transient failure is never read as absence. With
   * `existsForSure` (the exchange refused the id as a duplicate) absence is impossible: misses
   * only mean "not indexed yet" and end in 'unknown'.
   */
  async lookUpOrder(
    symbol: string,
    clientOrderId: string,
    opts: { existsForSure?: boolean; unknownOrderQueries?: number } = {},
  ): Promise<AsterOrder | 'absent' | 'unknown'> {
    const maxFailures =
      opts.unknownOrderQueries ?? this.opts.unknownOrderQueries ?? ORDER_LOOKUP_DEFAULTS.unknownOrderQueries;
    const needMisses = Math.max(1, this.opts.absentLookups ?? ORDER_LOOKUP_DEFAULTS.absentLookups);
    const spacing = this.opts.absentLookupSpacingMs ?? ORDER_LOOKUP_DEFAULTS.absentLookupSpacingMs;
    let misses = 0;
    let failures = 0;
    for (;;) {
      try {
        return await this.queryOrder({ symbol, origClientOrderId: clientOrderId });
      } catch (e) {
        if (isNoSuchOrder(e)) {
          misses++;
          if (misses >= needMisses) return opts.existsForSure === true ? 'unknown' : 'absent';
          await this.sleep(spacing);
          continue;
        }
        if (isTransientExchangeError(e)) {
          failures++;
          if (failures >= maxFailures) return 'unknown';
          await this.sleep(backoffDelay(failures - 1, 250, 4000));
          continue;
        }
        throw e;
      }
    }
  }

  async queryOrder(q: { symbol: string; orderId?: number; origClientOrderId?: string }): Promise<AsterOrder> {
    return this.call('GET', this.p('order'), { ...q }, 'SIGNED', OrderSchema);
  }

  async cancelOrder(q: { symbol: string; orderId?: number; origClientOrderId?: string }): Promise<AsterOrder> {
    return this.call('DELETE', this.p('order'), { ...q }, 'SIGNED', OrderSchema);
  }

  async cancelAllOpenOrders(symbol: string) {
    return this.call('DELETE', this.p('allOpenOrders'), { symbol }, 'SIGNED', CodeMsgSchema);
  }

  async openOrders(symbol?: string): Promise<AsterOrder[]> {
    return this.call('GET', this.p('openOrders'), { symbol }, 'SIGNED', OrdersSchema);
  }

  /** the most recent orders of a symbol (from `orderId` on when given) */
  async allOrders(q: { symbol: string; orderId?: number; startTime?: number; limit?: number }): Promise<AsterOrder[]> {
    return this.call('GET', this.p('allOrders'), { ...q }, 'SIGNED', OrdersSchema);
  }

  async userTrades(q: {
    symbol: string;
    startTime?: number;
    fromId?: number;
    limit?: number;
  }): Promise<AsterUserTrade[]> {
    return this.call('GET', this.p('userTrades'), { ...q }, 'SIGNED', UserTradesSchema);
  }

  async income(q: {
    incomeType?: string;
    symbol?: string;
    startTime?: number;
    limit?: number;
  }): Promise<AsterIncome[]> {
    return this.call('GET', this.p('income'), { ...q }, 'SIGNED', IncomesSchema);
  }

  // ---------------------------------------------------------------- account

  async balance() {
    return this.call('GET', this.v3 ? '/fapi/v3/balance' : '/fapi/v2/balance', {}, 'SIGNED', BalanceSchema);
  }

  async account() {
    return this.call(
      'GET',
      this.v3 ? '/fapi/v3/accountWithJoinMargin' : '/fapi/v4/account',
      {},
      'SIGNED',
      AccountSchema,
    );
  }

  async positionRisk(symbol?: string) {
    const path = this.v3 ? '/fapi/v3/positionRisk' : '/fapi/v2/positionRisk';
    return this.call('GET', path, { symbol }, 'SIGNED', PositionRiskSchema);
  }

  async changeLeverage(symbol: string, leverage: number) {
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > 125)
      throw new SapphireError('EXCHANGE_REJECTED', `leverage ${leverage} must be an integer in [1, 125]`);
    return this.call('POST', this.p('leverage'), { symbol, leverage }, 'SIGNED', LeverageSchema);
  }

  async commissionRate(symbol: string) {
    return this.call('GET', this.p('commissionRate'), { symbol }, 'SIGNED', CommissionRateSchema);
  }

  async createListenKey(): Promise<string> {
    return (await this.call('POST', this.p('listenKey'), {}, 'USER_STREAM', ListenKeySchema)).listenKey;
  }
  async keepAliveListenKey(): Promise<void> {
    await this.call('PUT', this.p('listenKey'), {}, 'USER_STREAM', null);
  }
  async closeListenKey(): Promise<void> {
    await this.call('DELETE', this.p('listenKey'), {}, 'USER_STREAM', null);
  }

  // ---------------------------------------------------------------- transport

  private p(name: string): string {
    return `/fapi/${this.v3 ? 'v3' : 'v1'}/${name}`;
  }

  private async call<S extends z.ZodType>(
    method: Method,
    path: string,
    params: Params,
    security: Security,
    schema: S | null,
  ): Promise<z.output<S>> {
    let rateLimitRetries = 0;
    let resynced = false;
    for (;;) {
      const res = await this.send(method, path, params, security);
      if (res.status === 429) {
        this.counters.rateLimited++;
        const max = this.opts.maxRateLimitRetries ?? 3;
        const wait = res.retryAfterMs ?? backoffDelay(rateLimitRetries, this.opts.rateLimitBackoffMs ?? 1000, Infinity);
        this.backoffUntil = Math.max(this.backoffUntil, this.now() + wait);
        if (rateLimitRetries++ >= max) throw this.apiError(res, path);
        continue;
      }
      if (res.status >= 500) throw this.unavailable(`${method} ${path}: HTTP ${res.status} ${this.clean(res.text)}`);
      if (res.status >= 400 || res.status < 200) {
        const err = this.apiError(res, path);
        // -1021 (V1 timestamp outside recvWindow) or -4225 (V3 nonce expired): our clock is off
        if ((err.exchangeCode === -1021 || err.exchangeCode === -4225) && !resynced && security !== 'NONE') {
          resynced = true;
          this.counters.resyncs++;
          await this.syncTime();
          continue;
        }
        throw err;
      }
      if (schema === null) return undefined as z.output<S>;
      let json: unknown;
      try {
        json = JSON.parse(res.text);
      } catch {
        throw this.payloadError(path, res.text, 'not JSON');
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw this.payloadError(path, res.text, parsed.error.message);
      return parsed.data;
    }
  }

  private async send(
    method: Method,
    path: string,
    params: Params,
    security: Security,
  ): Promise<{ status: number; text: string; retryAfterMs: number | undefined }> {
    if (this.bannedReason !== null) {
      if (this.now() < this.bannedUntil) throw new SapphireError('EXCHANGE_BANNED', this.bannedReason);
      this.bannedReason = null;
    }
    const wait = this.backoffUntil - this.now();
    if (wait > 0) await this.sleep(wait);
    // close to the per-minute weight limit: wait for the exchange's next minute instead of a 429
    const limit = this.opts.weightLimit ?? 2400;
    if (limit > 0 && this.usedWeight >= limit * (this.opts.weightHeadroom ?? 0.95)) {
      const minuteEnd = (this.weightMinute + 1) * 60_000;
      const untilReset = minuteEnd - this.serverNow();
      if (untilReset > 0) {
        this.counters.throttled++;
        await this.sleep(untilReset);
      }
    }

    const headers: Record<string, string> = {};
    let paramString = encodeParams(params);
    const c = this.opts.credentials;
    if (security !== 'NONE') {
      if (c === undefined) throw new SapphireError('NOT_CONFIGURED', `${path} needs Aster credentials`);
      if (c.kind === 'hmac') {
        headers['X-MBX-APIKEY'] = c.apiKey;
        if (security === 'SIGNED') {
          const timing = encodeParams({
            recvWindow: this.opts.recvWindow ?? 5000,
            timestamp: Math.round(this.serverNow()),
          });
          paramString = paramString === '' ? timing : `${paramString}&${timing}`;
          paramString += `&signature=${hmacSignature(c.secretKey, paramString)}`;
        }
      } else {
        const auth = encodeParams({ nonce: this.nonce.next(), user: c.user, signer: c.signer });
        paramString = paramString === '' ? auth : `${paramString}&${auth}`;
        const sig = await eip712Signature(c.privateKey, paramString, c.chainId ?? ASTER_CHAIN_ID);
        paramString += `&signature=${sig}`;
      }
    }
    const inBody = method === 'POST' || method === 'PUT';
    const url = `${this.baseUrl}${path}${!inBody && paramString !== '' ? `?${paramString}` : ''}`;
    if (inBody) headers['Content-Type'] = 'application/x-www-form-urlencoded';

    this.counters.requests++;
    const started = this.now();
    let status = 0;
    try {
      const res = await this.fetchImpl(url, {
        method,
        headers,
        body: inBody ? paramString : undefined,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
      status = res.status;
      const w = Number(res.headers.get('x-mbx-used-weight-1m'));
      if (res.headers.has('x-mbx-used-weight-1m') && Number.isFinite(w)) {
        this.usedWeight = w;
        this.weightMinute = Math.floor(this.serverNow() / 60_000);
      }
      const text = await res.text();
      const ra = Number(res.headers.get('retry-after'));
      const retryAfterMs = res.headers.has('retry-after') && Number.isFinite(ra) ? ra * 1000 : undefined;
      if (status === 418) {
        this.bannedReason = `${method} ${path}: HTTP 418 ${this.clean(text)}`;
        // without Retry-After: a bounded ban, then try again (a still-banned client gets another 418)
        this.bannedUntil = this.now() + (retryAfterMs ?? this.opts.banDefaultMs ?? ORDER_LOOKUP_DEFAULTS.banDefaultMs);
        throw new SapphireError('EXCHANGE_BANNED', this.bannedReason);
      }
      if (status >= 400) this.counters.errors++;
      return { status, text, retryAfterMs };
    } catch (e) {
      if (e instanceof SapphireError) throw e;
      this.counters.errors++;
      this.counters.timeouts++;
      const what = e instanceof Error && e.name === 'TimeoutError' ? 'timed out' : 'failed';
      throw this.unavailable(`${method} ${path} ${what}: ${this.clean(e instanceof Error ? e.message : String(e))}`);
    } finally {
      this.opts.onRequest?.({ method, path, status, latencyMs: this.now() - started, weight: this.usedWeight });
    }
  }

  private clean(text: string): string {
    return redact(text.length > 500 ? `${text.slice(0, 500)}…` : text, this.secrets);
  }

  private unavailable(detail: string): SapphireError {
    return new SapphireError('EXCHANGE_UNAVAILABLE', detail);
  }

  private payloadError(path: string, text: string, why: string): SapphireError {
    return new SapphireError('EXCHANGE_PAYLOAD', `${path}: ${why}; raw: ${this.clean(text)}`);
  }

  private apiError(res: { status: number; text: string }, path: string): AsterApiError {
    let code = 0;
    let msg = this.clean(res.text);
    try {
      const j = CodeMsgSchema.safeParse(JSON.parse(res.text));
      if (j.success) {
        code = Number(j.data.code);
        msg = this.clean(j.data.msg);
      }
    } catch {
      // not JSON: keep the raw (redacted) text as the message
    }
    return new AsterApiError(res.status, code, msg, path);
  }
}
