import type { AddressInfo } from 'node:net';
import { DEFAULT_LIQUIDITY } from '../pipelines/liquidity/liquidity.settings.ts';
import { liquidityParams } from '../pipelines/liquidity/liquidity.kernel.ts';
import type { SymbolFilters } from '../pipelines/model/index.ts';
import type { ClockPort, Timers } from '../pipelines/ports.ts';
import { realTimers, systemClock } from '../runtime/timers.ts';
import { asterFilters } from '../pipelines/instruments.ts';
import {
  accountOf,
  applyFunding,
  availableBalance,
  cancelAll,
  createEngine,
  onBar,
  openOrders,
  type Engine,
} from './matching.kernel.ts';
import { V1Auth, V3Auth, type V1Credential, type V3Credential } from './auth.ts';
import { FaultInjector } from './faults.ts';
import { Replay } from './replay.ts';
import { IncomeLedger } from './income.ts';
import { FundingSchedule } from './funding.ts';
import { formatsFor, type Formats } from './payloads.ts';
import type { SimContext } from './context.ts';
import type { ExchangeSimulator, SimulatorOptions } from './options.ts';
import { WsHub } from './ws-hub.ts';
import { HttpApi } from './http-server.ts';
import { dispatchEvents } from './user-events.ts';
import { publishBar, publishMarkArray } from './market-feed.ts';

export type { ExchangeSimulator, SimulatorOptions, SimulatorState } from './options.ts';

/**
 * An Aster-compatible exchange on 127.0.0.1: REST (V1 HMAC and V3 EIP-712), market and user-data
 * WebSockets, a matching engine over a replay of real bars, and fault injection. The pieces:
 * routes/ (the REST route table), http-server.ts (limits, faults, auth), ws-hub.ts (sockets),
 * market-feed.ts (what a released bar publishes), user-events.ts (engine events to sockets).
 *
 * Times: `serverTime` and the auth windows use the wall clock (`clock.now`), so real clients can
 * sign with their own clock; see `SimContext.eventTime` for what the emitted data is stamped with.
 */

const EIGHT_HOURS = 8 * 3_600_000;

function symbolFilters(opts: SimulatorOptions): Map<string, SymbolFilters> {
  const allFilters = opts.filters ?? asterFilters();
  const filters = new Map<string, SymbolFilters>();
  for (const s of opts.series) {
    const f = allFilters.get(s.symbol);
    if (!f) throw new Error(`no exchange filters for ${s.symbol} (known: ${[...allFilters.keys()].join(', ')})`);
    filters.set(s.symbol, f);
  }
  return filters;
}

function engineFor(opts: SimulatorOptions, filters: Map<string, SymbolFilters>): Engine {
  return createEngine({
    filters,
    takerFee: opts.takerFee ?? 0.00035,
    makerFee: opts.makerFee ?? 0.0001,
    slippageBps: opts.slippageBps ?? 0,
    initialBalance: opts.initialBalance,
    defaultLeverage: opts.defaultLeverage ?? 20,
    maxNumOrders: 200,
    maxNumAlgoOrders: 10,
    ...(opts.brackets !== undefined ? { brackets: opts.brackets } : {}),
    ...(opts.liquidationFee !== undefined ? { liquidationFee: opts.liquidationFee } : {}),
    liquidity: liquidityParams({ ...DEFAULT_LIQUIDITY, ...opts.liquidity }),
  });
}

function authFor(opts: SimulatorOptions, engine: Engine): { v1: V1Auth; v3: V3Auth } {
  const v1Creds = (opts.credentials ?? []).filter((c): c is V1Credential => 'apiKey' in c);
  const v3Creds = [
    ...(opts.credentials ?? []).filter((c): c is V3Credential => 'signer' in c),
    ...(opts.v3Credentials ?? []),
  ];
  for (const c of v1Creds) accountOf(engine, c.account ?? c.apiKey);
  for (const c of v3Creds) accountOf(engine, c.account ?? c.user.toLowerCase());
  return { v1: new V1Auth(v1Creds), v3: new V3Auth(v3Creds, opts.chainId ?? 1666) };
}

/** timers on the wall clock, all cleared at close */
function timerSet(timers: Timers): { later(fn: () => void, ms: number): void; clear(): void } {
  const pending = new Set<unknown>();
  let closed = false;
  return {
    later(fn, ms) {
      const h = timers.setTimeout(() => {
        pending.delete(h);
        if (!closed) fn();
      }, ms);
      pending.add(h);
    },
    clear() {
      closed = true;
      for (const h of pending) timers.clearTimeout(h);
      pending.clear();
    },
  };
}

function buildContext(opts: SimulatorOptions, clock: ClockPort, later: SimContext['later']): SimContext {
  const filters = symbolFilters(opts);
  const fmt = new Map<string, Formats>([...filters].map(([s, f]) => [s, formatsFor(f)]));
  const engine = engineFor(opts, filters);
  const intervalMs = opts.barIntervalMs ?? opts.series[0]!.intervalMs;
  const symbols = opts.series.map((x) => x.symbol);
  const replay = new Replay(opts.series, intervalMs, opts.startIndex ?? 0);
  const hub = new WsHub({
    clock,
    eventTime: () => replay.cursorTime,
    later,
    intervalMs,
    listenKeyTtlMs: opts.listenKeyTtlMs ?? 60 * 60_000,
    maxConnectionMs: opts.maxConnectionMs ?? 24 * 3_600_000,
    pingIntervalMs: opts.pingIntervalMs ?? 5 * 60_000,
    pongTimeoutMs: opts.pongTimeoutMs ?? 15 * 60_000,
  });
  const sim: SimContext = {
    opts,
    clock,
    later,
    engine,
    filters,
    fmtOf: (symbol) => fmt.get(symbol) ?? formatsFor(undefined),
    replay,
    funding: new FundingSchedule(
      symbols,
      opts.fundingRates ?? [],
      opts.fundingRate ?? 0.0001,
      opts.fundingIntervalMs ?? EIGHT_HOURS,
    ),
    income: new IncomeLedger(),
    brackets: engine.cfg.brackets!,
    faults: new FaultInjector(opts.faults, () => clock.now()),
    hub,
    symbols,
    countdowns: new Map(),
    // one clock for the data: what the simulator emits is stamped where its market is, never at wall time
    eventTime: () => replay.cursorTime,
    dispatch: (events) => dispatchEvents(sim, events, sim.eventTime()),
    seq: { trade: 1, book: 1 },
  };
  return sim;
}

/**
 * Dead-man switches on the market clock. A bar has no time inside it, so a countdown ending during
 * a bar cancels before that bar is matched.
 */
function expireCountdowns(sim: SimContext, upTo: number): void {
  for (const [key, c] of sim.countdowns) {
    if (c.deadline > upTo) continue;
    sim.countdowns.delete(key);
    sim.dispatch(cancelAll(sim.engine, c.account, c.symbol, c.deadline));
  }
}

/** one market step: countdowns, matching against each released bar, its streams, funding settlements */
function stepMarket(sim: SimContext): boolean {
  const { replay, engine } = sim;
  const before = replay.cursorTime;
  const released = replay.step();
  if (released.length === 0 && replay.done()) return false;
  expireCountdowns(sim, replay.cursorTime);
  for (const { series: s, index: i } of released) {
    const bar = { open: s.open[i]!, high: s.high[i]!, low: s.low[i]!, close: s.close[i]!, volume: s.volume[i]! };
    sim.dispatch(onBar(engine, s.symbol, bar, sim.eventTime()));
    publishBar(sim, s, i, sim.eventTime());
  }
  // funding at each settlement time the market clock crossed (real history, else the default schedule)
  for (const symbol of sim.symbols) {
    const mark = engine.last.get(symbol);
    if (mark === undefined) continue;
    for (const settlement of sim.funding.due(symbol, before, replay.cursorTime)) {
      const balances = sim.income.balances(engine);
      const at = sim.eventTime();
      const events = applyFunding(engine, symbol, settlement.rate, mark, at);
      sim.income.recordFunding(engine, balances, symbol, at);
      sim.dispatch(events);
    }
  }
  publishMarkArray(sim, sim.eventTime());
  return true;
}

export async function startExchangeSimulator(opts: SimulatorOptions): Promise<ExchangeSimulator> {
  const clock = opts.clock ?? systemClock;
  const timers = timerSet(opts.timers ?? realTimers);
  const sim = buildContext(opts, clock, timers.later);
  const api = new HttpApi(sim, authFor(opts, sim.engine), {
    weightLimit: opts.weightLimit ?? 2400,
    orderLimitPer10s: opts.orderLimitPer10s ?? 300,
    orderLimitPerMinute: opts.orderLimitPerMinute ?? 1200,
  });

  // initial bars: set prices and book depth, no fills
  for (const r of sim.replay.releaseToCursor()) {
    sim.engine.last.set(r.series.symbol, r.series.close[r.index]!);
    sim.engine.volume.set(r.series.symbol, r.series.volume[r.index]!);
  }

  const advance = (n = 1): number => {
    let steps = 0;
    while (steps < n && stepMarket(sim)) steps++;
    return steps;
  };

  const server = api.createServer();
  sim.hub.attach(server);
  const housekeepingMs = Math.max(10, Math.min(opts.pingIntervalMs ?? 5 * 60_000, 250));
  const housekeeping = (): void => {
    sim.hub.sweep();
    for (const f of sim.faults.poll()) sim.hub.dropSockets(f.kind);
    timers.later(housekeeping, housekeepingMs);
  };
  timers.later(housekeeping, housekeepingMs);
  const replayLoop = (): void => {
    if (sim.replay.done()) return;
    advance(1);
    timers.later(replayLoop, opts.replayMs);
  };
  if (opts.replayMs > 0) timers.later(replayLoop, opts.replayMs);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const defaultAccount = (): string => [...sim.engine.accounts.keys()][0] ?? '';

  return {
    restUrl: `http://${host}:${addr.port}`,
    wsUrl: `ws://${host}:${addr.port}`,
    state(account = defaultAccount()) {
      const a = accountOf(sim.engine, account);
      return {
        cursorTime: sim.replay.cursorTime,
        balance: a.balance,
        availableBalance: availableBalance(sim.engine, a),
        positions: [...a.positions.values()].map((p) => ({ ...p })),
        openOrders: openOrders(sim.engine, account).map((o) => ({ ...o })),
        orders: [...a.orders.values()].map((o) => ({ ...o })),
        fills: a.fills.map((f) => ({ ...f })),
        fundingPaid: a.fundingPaid,
        faults: { ...sim.faults.counters },
        accounts: [...sim.engine.accounts.keys()],
        marketSockets: sim.hub.marketSocketCount,
        userSockets: sim.hub.userSocketCount,
      };
    },
    injectFault(kind, o) {
      sim.faults.inject(kind, o);
      if (kind === 'drop-market-ws' || kind === 'drop-user-ws')
        for (const f of sim.faults.poll()) sim.hub.dropSockets(f.kind);
    },
    setFaults(plan) {
      sim.faults.setPlan(plan);
    },
    advance,
    async close() {
      timers.clear();
      sim.hub.terminateAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
