import { intervalToMs, type SymbolFilters } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { SapphireError, isSapphireError } from '../../pipelines/errors.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { AsterRestClient, type AsterCredentials } from '../aster/rest-client.ts';
import type { AsterOrder } from '../aster/schemas.ts';
import { AsterMarketStream } from '../aster/market-stream.ts';
import { asterMarketPort } from '../aster/aster-market-port.ts';
import { asterExecutionPort, type AsterExecutionPort } from '../aster/aster-execution-port.ts';
import { AsterUserStream } from '../aster/user-stream.ts';
import { mergeRestartFills, restartSince, type JournaledFills } from '../aster/restart-catch-up.ts';
import { OrchestratorClient, orchestratorOrderApi } from '../orchestrator/orchestrator-client.ts';
import type { Fill, Order, OrderRejected, PositionView } from '../../pipelines/model/index.ts';
import type { VenueEvent } from '../../pipelines/ports.ts';
import type { AsterSourceHooks, EmbeddedExchange, MarketSource, StartEmbeddedExchange } from './market-source.ts';
import { warmupBars } from './market-source.ts';
import { readHoldings } from './exchange-holdings.ts';
import { backoffDelay } from '../../pipelines/backoff.ts';
import { sleep as realSleep } from '../../runtime/timers.ts';

/** how far before the journal's last fill a restart reads trades back (clock skew, late indexing) */
const CATCH_UP_SLACK_MS = 5_000;

/** The credentials the settings hold, if any (V3 API wallet preferred when both are set). */
export function credentialsFrom(settings: Settings, chainId = 1666): AsterCredentials | undefined {
  if (settings.ASTER_USER && settings.ASTER_SIGNER && settings.ASTER_SIGNER_PRIVATE_KEY) {
    return {
      kind: 'eip712',
      user: settings.ASTER_USER as `0x${string}`,
      signer: settings.ASTER_SIGNER as `0x${string}`,
      privateKey: settings.ASTER_SIGNER_PRIVATE_KEY as `0x${string}`,
      chainId,
    } as AsterCredentials;
  }
  if (settings.ASTER_API_KEY && settings.ASTER_SECRET_KEY) {
    return { kind: 'hmac', apiKey: settings.ASTER_API_KEY, secretKey: settings.ASTER_SECRET_KEY } as AsterCredentials;
  }
  return undefined;
}

/**
 * Live bars from an Aster-compatible exchange: warm-up history over REST klines, then closed
 * klines from the combined WebSocket streams (gaps filled over REST). Bars that had closed when
 * the source opened are history: the engine feeds them with entries halted.
 */
export async function asterMarketSource(
  settings: Settings,
  urls: { restUrl: string; wsUrl: string } = { restUrl: settings.ASTER_REST_URL, wsUrl: settings.ASTER_WS_URL },
  hooks: AsterSourceHooks = {},
  onClose: () => Promise<void> = async () => {},
): Promise<MarketSource> {
  if (urls.wsUrl === '') {
    throw new SapphireError('SETTINGS_INVALID', 'ASTER_REST_URL is set but ASTER_WS_URL is empty: set both');
  }
  const client = new AsterRestClient({
    baseUrl: urls.restUrl,
    credentials: credentialsFrom(settings),
    recvWindow: settings.ASTER_RECV_WINDOW,
    absentLookups: settings.ASTER_ABSENT_LOOKUPS,
    absentLookupSpacingMs: settings.ASTER_ABSENT_LOOKUP_SPACING_MS,
    banDefaultMs: settings.ASTER_BAN_DEFAULT_MS,
    onRequest: hooks.onRequest
      ? (info) => hooks.onRequest!({ path: info.path, status: info.status, latencyMs: info.latencyMs })
      : undefined,
  });
  // timestamps (V1) and nonces (V3) follow the exchange's clock from the first signed call on
  await client.syncTime();
  const all = await client.exchangeInfo();
  const symbols = settings.SYMBOLS.filter((s) => all.has(s));
  const unknown = settings.SYMBOLS.filter((s) => !all.has(s));
  if (symbols.length === 0) {
    throw new SapphireError(
      'SETTINGS_INVALID',
      `SYMBOLS=${settings.SYMBOLS.join(',')}: none is listed by ${urls.restUrl}`,
    );
  }
  const filters = new Map<string, SymbolFilters>(symbols.map((s) => [s, all.get(s)!]));
  const intervalMs = intervalToMs(settings.BAR_INTERVAL);
  // the newest closed bar at open time marks the end of history
  const latest = await client.klines({ symbol: symbols[0]!, interval: settings.BAR_INTERVAL, limit: 2 });
  const closed = latest.filter((k) => k.openTime + intervalMs <= client.serverNow());
  const historyUntil = closed.length > 0 ? closed.at(-1)!.openTime + intervalMs : client.serverNow();

  const stream = new AsterMarketStream({
    wsUrl: urls.wsUrl,
    symbols,
    interval: settings.BAR_INTERVAL,
    klines: (q) => client.klines(q),
    now: () => client.serverNow(),
  });
  let state = 'connecting';
  let userStream: AsterUserStream | null = null;
  let userStatusSub: { unsubscribe(): void } | null = null;
  let execution: AsterExecutionPort | null = null;
  const statusSub = stream.status.subscribe((s) => {
    state = s.kind === 'connected' ? 'connected' : s.kind === 'disconnected' ? 'reconnecting' : state;
    if (s.kind === 'error') hooks.onIssue?.({ source: 'market-stream', kind: 'error', detail: s.detail });
  });
  const port = asterMarketPort({
    symbols,
    interval: settings.BAR_INTERVAL,
    warmupBars: warmupBars(settings),
    klines: (q) => client.klines(q),
    serverNow: () => client.serverNow(),
    stream,
  });
  return {
    symbols,
    filters,
    unknownSymbols: unknown,
    historyUntil,
    bars: port.bars(),
    execution: () => {
      // opened by reconcileAtStart once the journal is replayed; every reconnect catches up over REST
      userStream ??= new AsterUserStream({
        wsUrl: urls.wsUrl,
        rest: client,
        catchUp: client,
        symbols,
        now: () => client.serverNow(),
      });
      // a failed catch-up or a malformed frame may hide a fill: never silent
      userStatusSub ??= userStream.status.subscribe((s) => {
        if (s.kind === 'error') hooks.onIssue?.({ source: 'user-stream', kind: 'error', detail: s.detail });
      });
      execution = executionOver(settings, client, userStream, hooks);
      return execution;
    },
    venue: {
      reconcile: (open, journaled) =>
        reconcileAtStart(client, userStream, open, journaled, settings.TAKER_FEE, settings.ASTER_RECV_WINDOW),
      verify: (positions) =>
        verifyPositions(client, symbols, filters, positions, (amounts) => execution?.knowPositions(amounts)),
      adoptWorking: (orders) => execution?.adopt(orders),
      holdings: () => readHoldings(client, symbols),
      cancel: async (o) => {
        await client.cancelOrder({ symbol: o.symbol, origClientOrderId: o.clientOrderId });
      },
    },
    status: () => state,
    close: async () => {
      statusSub.unsubscribe();
      userStatusSub?.unsubscribe();
      stream.stop();
      userStream?.stop();
      await onClose();
    },
  };
}

/**
 * Orders to the exchange (or, with ORCHESTRATOR_URL, through the wallet's orchestrator, which
 * routes and guards them); fills from this account's user-data stream either way.
 */
function executionOver(
  settings: Settings,
  client: AsterRestClient,
  userStream: AsterUserStream,
  hooks: AsterSourceHooks,
): AsterExecutionPort {
  const orders =
    settings.ORCHESTRATOR_URL !== ''
      ? orchestratorOrderApi(
          new OrchestratorClient({
            baseUrl: settings.ORCHESTRATOR_URL,
            botId: settings.BOT_ID,
            adminToken: settings.ADMIN_API_TOKEN,
          }),
        )
      : client;
  return asterExecutionPort({
    client: orders,
    userEvents: userStream.events,
    onIssue: (i) =>
      hooks.onIssue?.({
        source: 'execution',
        kind: i.kind,
        detail: i.clientOrderId === '' ? i.detail : `${i.clientOrderId}: ${i.detail}`,
      }),
  });
}

/**
 * ASTER_REST_URL empty: the embedded exchange (`startEmbedded`, the simulator the composition root
 * passes in); else the exchange it names.
 */
export async function openMarketSource(
  settings: Settings,
  hooks: AsterSourceHooks = {},
  resumeAfter = -Infinity,
  startEmbedded?: StartEmbeddedExchange,
): Promise<MarketSource> {
  if (settings.ASTER_REST_URL !== '') return asterMarketSource(settings, undefined, hooks);
  if (startEmbedded === undefined) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'ASTER_REST_URL is empty (trade on the embedded exchange simulator) but this process was started without one: set ASTER_REST_URL and ASTER_WS_URL, or start the service with `sapphire serve`',
    );
  }
  return embeddedSimulatorSource(settings, startEmbedded, hooks, resumeAfter);
}

/**
 * The embedded default: the exchange simulator replaying real recorded bars over the Aster
 * protocol on 127.0.0.1, and the same Aster source as for the real exchange pointed at it.
 */
export async function embeddedSimulatorSource(
  settings: Settings,
  startEmbedded: StartEmbeddedExchange,
  hooks: AsterSourceHooks = {},
  /** the last bar the journal holds: a restarted service's market resumes right after it */
  resumeAfter = -Infinity,
): Promise<MarketSource & { simulator: EmbeddedExchange }> {
  const all = await loadDataset({ dir: settings.SIMULATOR_DATA_DIR });
  const wanted = all.filter((c) => settings.SYMBOLS.includes(c.symbol));
  const series = wanted.length > 0 ? wanted : all;
  const warm = warmupBars(settings);
  if (series[0]!.length <= warm + 1) {
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `SIMULATOR_DATA_DIR=${settings.SIMULATOR_DATA_DIR} has ${series[0]!.length} bars; the features need ${warm}`,
    );
  }
  const simulator = await startEmbedded({
    series,
    host: '127.0.0.1',
    port: 0,
    replayMs: settings.SIMULATOR_REPLAY_MS,
    startIndex: resumeIndex(series[0]!, warm, resumeAfter),
    initialBalance: settings.INITIAL_BALANCE,
  });
  const narrowed = { ...settings, SYMBOLS: series.map((c) => c.symbol) } as Settings;
  const source = await asterMarketSource(narrowed, { restUrl: simulator.restUrl, wsUrl: simulator.wsUrl }, hooks, () =>
    simulator.close(),
  );
  const status = source.status;
  return { ...source, simulator, status: () => `simulated (${status()})` };
}

export interface ReconcileOptions {
  /** lookup rounds (each with the client's own retries) before giving up loudly; default 5 */
  readonly rounds?: number;
  /** pause between rounds, doubled per round; default 1000 ms */
  readonly backoffMs?: number;
  /** the longest exchange ban (418) waited out before giving up; default 300 000 ms */
  readonly maxBanWaitMs?: number;
  /**
   * how long the exchange accepts a signed request after its timestamp (ASTER_RECV_WINDOW); an
   * order sent before the restart can still arrive until then, so "absent" is final only after it
   * has passed; default 5000 ms
   */
  readonly requestWindowMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** order lookups in flight at once at a restart (each is one request of weight 1, with its retries) */
const LOOKUPS_AT_ONCE = 4;

/** `fn` over `items`, at most `limit` at a time; results in the items' order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * What the exchange says about one order after a restart: the order, or 'absent' on its explicit
 * "order does not exist" (repeated, see AsterRestClient.lookUpOrder). Transient failures (5xx,
 * timeouts, 429, a ban) are retried and never read as absence; when they outlast the rounds this
 * throws, so the service does not start on a guess.
 */
async function lookUpAfterRestart(
  client: AsterRestClient,
  order: Order,
  opts: ReconcileOptions,
): Promise<AsterOrder | 'absent'> {
  const rounds = opts.rounds ?? 5;
  const sleep = opts.sleep ?? realSleep;
  const maxBanWait = opts.maxBanWaitMs ?? 300_000;
  let last = '';
  for (let round = 1; ; round++) {
    try {
      const found = await client.lookUpOrder(order.symbol, order.clientOrderId);
      if (found !== 'unknown') return found;
      last = 'no answer (timeouts, 5xx or rate limits)';
    } catch (e) {
      if (!isSapphireError(e, 'EXCHANGE_BANNED')) throw e;
      const wait = client.banRemainingMs;
      if (wait > maxBanWait)
        throw new SapphireError(
          'EXCHANGE_BANNED',
          `reconciliation of ${order.clientOrderId}: banned by the exchange for ${Math.ceil(wait / 1000)} s more: ${e.message}`,
        );
      last = e.message;
      if (round >= rounds) break;
      await sleep(wait);
      continue;
    }
    if (round >= rounds) break;
    await sleep(backoffDelay(round - 1, opts.backoffMs ?? 1000, Infinity));
  }
  throw new SapphireError(
    'EXCHANGE_UNAVAILABLE',
    `reconciliation: order ${order.clientOrderId} (${order.symbol}) could not be looked up after ${rounds} rounds (${last}); not treating it as absent`,
  );
}

/**
 * Orders that were in flight when the service stopped: the exchange says what became of them.
 * A fill that happened while the service was down becomes a Fill (quantity executed beyond what
 * the journal saw, at the order's average price; the fee is estimated at TAKER_FEE because the
 * order query does not carry commissions); an order the exchange says does not exist, or
 * cancelled, becomes an OrderRejected so the pipeline stops waiting for it. Working orders are
 * left to the stream. An exchange that does not answer is retried, then an error — never absence.
 */
export async function reconcileOrders(
  client: AsterRestClient,
  open: readonly { order: Order; filled: number }[],
  takerFee: number,
  opts: ReconcileOptions = {},
): Promise<VenueEvent[]> {
  const out: VenueEvent[] = [];
  // every order in `open` was signed before this process started, so before now: once the
  // request window has passed since now, none of them can still reach the exchange
  const finalAfter = client.serverNow() + (opts.requestWindowMs ?? 5000);
  // the orders are looked up a few at a time: one by one, a restart with several in flight
  // waited out each one's spaced "does not exist" lookups in turn
  const lookUp = (o: { order: Order }) => lookUpAfterRestart(client, o.order, opts);
  const found = await mapLimited(open, LOOKUPS_AT_ONCE, lookUp);
  const absent = open.filter((_, i) => found[i] === 'absent');
  if (absent.length > 0 && client.serverNow() < finalAfter) {
    // a request may still be on its way (a slow gateway): ask again once it cannot be
    await (opts.sleep ?? realSleep)(finalAfter - client.serverNow());
    const again = await mapLimited(absent, LOOKUPS_AT_ONCE, lookUp);
    for (const [k, o] of absent.entries()) found[open.indexOf(o)] = again[k]!;
  }
  for (const [i, { order, filled }] of open.entries()) {
    const q = found[i]!;
    if (q === 'absent') {
      const rejected: OrderRejected = {
        kind: 'order-rejected',
        time: order.time,
        symbol: order.symbol,
        clientOrderId: order.clientOrderId,
        reason: 'the exchange says this order does not exist (never received before the restart)',
      };
      out.push(rejected);
      continue;
    }
    const executed = q.executedQty ?? 0;
    if (executed > filled + 1e-12) {
      const price = q.avgPrice ?? order.refPrice;
      const quantity = executed - filled;
      const fill: Fill = {
        kind: 'fill',
        time: Math.max(order.time, q.updateTime ?? order.time),
        symbol: order.symbol,
        clientOrderId: order.clientOrderId,
        side: order.side,
        quantity,
        price,
        fee: quantity * price * takerFee,
        liquidity: 'taker',
        reason: order.reason,
      };
      out.push(fill);
    } else if (['CANCELED', 'EXPIRED', 'REJECTED'].includes(q.status)) {
      out.push({
        kind: 'order-rejected',
        time: Math.max(order.time, q.updateTime ?? order.time),
        symbol: order.symbol,
        clientOrderId: order.clientOrderId,
        reason: `${q.status} by the exchange while the service was down`,
      });
    }
  }
  return out;
}

/**
 * A restart, before anything is sent: the lookups of the orders the journal knows as working,
 * then the user stream opened and the fills it cannot replay read back (restart-catch-up.ts).
 */
export async function reconcileAtStart(
  client: AsterRestClient,
  userStream: AsterUserStream | null,
  open: readonly { order: Order; filled: number }[],
  journaled: JournaledFills,
  takerFee: number,
  requestWindowMs?: number,
): Promise<VenueEvent[]> {
  const lookups = await reconcileOrders(client, open, takerFee, { requestWindowMs });
  if (userStream === null) return lookups;
  const since = restartSince(journaled, lookups, client.serverNow(), CATCH_UP_SLACK_MS);
  const trades = await userStream.startCaughtUp(since, journaled.filled);
  return mergeRestartFills(lookups, trades, open);
}

/**
 * The rebuilt book against the exchange's positions; null when they agree to the step size. The
 * amounts read go to `read` too (the execution port attributes funding against them).
 */
export async function verifyPositions(
  client: AsterRestClient,
  symbols: readonly string[],
  filters: ReadonlyMap<string, SymbolFilters>,
  positions: readonly PositionView[],
  read?: (amounts: ReadonlyMap<string, number>) => void,
): Promise<string | null> {
  const rows = await client.positionRisk();
  const amounts = new Map<string, number>();
  for (const r of rows)
    if (symbols.includes(r.symbol)) amounts.set(r.symbol, (amounts.get(r.symbol) ?? 0) + r.positionAmt);
  read?.(amounts);
  const problems: string[] = [];
  for (const symbol of symbols) {
    const theirs = rows.filter((r) => r.symbol === symbol).reduce((sum, r) => sum + r.positionAmt, 0);
    const ours = positions.find((p) => p.symbol === symbol)?.quantity ?? 0;
    const step = filters.get(symbol)?.stepSize ?? 0;
    if (Math.abs(theirs - ours) > step / 2 + 1e-12) problems.push(`${symbol} exchange ${theirs} vs journal ${ours}`);
  }
  return problems.length > 0 ? problems.join('; ') : null;
}

/**
 * Where the embedded market starts: after the warm-up on a first start; on a restart, at the bar
 * the journal last saw, so the service picks up where it stopped instead of waiting for the
 * replay to catch up with it.
 */
export function resumeIndex(
  first: { openTime: Float64Array; intervalMs: number; length: number },
  warm: number,
  resumeAfter: number,
): number {
  if (!Number.isFinite(resumeAfter)) return warm;
  let i = warm;
  while (i < first.length - 1 && first.openTime[i]! + first.intervalMs <= resumeAfter) i++;
  return Math.max(warm, i - 1);
}
