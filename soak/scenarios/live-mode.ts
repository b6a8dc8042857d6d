import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { ACTIVE_STRATEGY } from './crash-restart.ts';
import { freePort, getJson, REPO, sleep, spawnServe, tempDir, until, type ServeProcess, type SoakRow } from '../kit.ts';

const KEY = { apiKey: 'soak-live-api-key', secretKey: 'soak-live-secret-key' };
const TOKEN = 'soak-live-admin-token-5d1e9a7c3b0f2468';
/** the exchange's clock against ours, per life: ahead by more than recvWindow, behind (we look 3 s ahead), none */
const SKEWS_MS = [0, 8000, -3000];

interface View {
  positions: { symbol: string; side: string; quantity: number }[];
}
interface Health {
  ok: boolean;
  last_error: string | null;
}

export interface LiveModeOptions {
  /** lives killed with SIGKILL while an order request is in flight (a last life then settles) */
  kills: number;
  /** ms between released bars while a life trades */
  barEveryMs?: number;
  log?: (line: string) => void;
}

/** Quantity filled per client order id, as the service journaled it (venue fill events). */
function journaledFills(path: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{"type":"venue"')) continue;
    const e = JSON.parse(line) as { data: { event: { kind: string; clientOrderId?: string; quantity?: number } } };
    const ev = e.data.event;
    if (ev.kind === 'fill' && ev.clientOrderId)
      out.set(ev.clientOrderId, (out.get(ev.clientOrderId) ?? 0) + ev.quantity!);
  }
  return out;
}

/** Quantity filled per client order id at the exchange. */
function exchangeFills(sim: ExchangeSimulator): Map<string, number> {
  const state = sim.state(KEY.apiKey);
  const idOf = new Map(state.orders.map((o) => [o.orderId, o.clientOrderId]));
  const out = new Map<string, number>();
  for (const f of state.fills) {
    const id = idOf.get(f.orderId) ?? `order ${f.orderId}`;
    out.set(id, (out.get(id) ?? 0) + f.qty);
  }
  return out;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * One life: start `sapphire serve` in live mode, arm this life's faults once it is healthy (a
 * lost order response, a delayed fill with the user stream dropped while it is pending, a
 * signed request refused for the clock), then kill it while an order request is in flight.
 */
async function runLife(
  life: number,
  spawn: () => ServeProcess,
  sim: ExchangeSimulator,
  setSkew: (ms: number) => void,
  last: boolean,
  log: (line: string) => void,
): Promise<{ proc: ServeProcess; killedInFlight: boolean }> {
  setSkew(SKEWS_MS[life % SKEWS_MS.length]!);
  const proc = spawn();
  await until(
    `life ${life}: healthz`,
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`serve exited ${proc.child.exitCode}: ${proc.output().slice(-600)}`);
      return (await getJson<Health>(`${proc.base}/healthz`)).ok ? true : undefined;
    },
    60_000,
    100,
  );
  // healthy is not yet trading: /start answers 409 until the journal is replayed and the engine runs
  await until(
    `life ${life}: engine started`,
    async () => {
      const r = await fetch(`${proc.base}/start`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      await r.arrayBuffer();
      return r.status === 200 ? true : undefined;
    },
    60_000,
    250,
  );
  if (last) return { proc, killedInFlight: false };
  const faults = () => sim.state(KEY.apiKey).faults;
  const before = faults();
  const taken = (kind: 'latency-spike' | 'delayed-fill' | 'unknown-503', timeoutMs: number) =>
    until(kind, () => (faults()[kind] > before[kind] ? true : undefined), timeoutMs, 20).then(
      () => true,
      () => false,
    );
  const amount = (symbol: string) => sim.state(KEY.apiKey).positions.find((x) => x.symbol === symbol)?.amount ?? 0;
  const decide = (symbol: string, action: 'enter-long' | 'enter-short' | 'exit') =>
    fetch(`${proc.base}/inference/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol, action, confidence: 0.9, reason: `soak life ${life}` }),
    }).then(
      async (r) => `${r.status} ${await r.text()}`,
      (e: unknown) => String(e),
    );
  const symbol = life % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT';
  // 1. an order whose response is lost (placed at the exchange, 503 to us): looked up, never
  // re-sent. Momentum trades on its own, so the symbol may already be held: then it is the exit
  // whose response is lost, and a plain entry follows so step 2 has a position to close.
  const holding = amount(symbol) !== 0;
  sim.injectFault('unknown-503', { route: '/fapi/v1/order', place: true });
  const lostAction = holding ? 'exit' : life % 4 < 2 ? 'enter-long' : 'enter-short';
  log(`life ${life}: ${lostAction} ${symbol}, response lost: ${(await decide(symbol, lostAction)).slice(0, 160)}`);
  await taken('unknown-503', 10_000);
  const settled = () => (holding ? amount(symbol) === 0 : amount(symbol) !== 0);
  await until(`${symbol} ${holding ? 'flat' : 'position'}`, () => (settled() ? true : undefined), 20_000).catch(
    () => undefined,
  );
  // 2. an exit whose fill is delayed while the user stream is down (once the service holds the position)
  const held = async () =>
    (await getJson<View>(`${proc.base}/dashboard`)).positions.some((x) => x.symbol === symbol) ? true : undefined;
  if (holding && amount(symbol) === 0)
    log(`life ${life}: re-enter ${symbol}: ${(await decide(symbol, 'enter-long')).slice(0, 160)}`);
  if (
    await until(`${symbol} held by the service`, held, 20_000).then(
      () => true,
      () => false,
    )
  ) {
    sim.injectFault('delayed-fill', { delayMs: 1500 });
    log(`life ${life}: exit ${symbol}: ${(await decide(symbol, 'exit')).slice(0, 160)}`);
    if (await taken('delayed-fill', 10_000)) sim.injectFault('drop-user-ws');
    await until(`${symbol} flat`, () => (amount(symbol) === 0 ? true : undefined), 20_000).catch(() => undefined);
  }
  // 3. the skew flips the other way: the client must re-measure in both directions
  setSkew(-SKEWS_MS[life % SKEWS_MS.length]!);
  // 4. an entry in flight (the exchange holds the request 4 s, then places it) when the process dies
  sim.injectFault('latency-spike', { route: '/fapi/v1/order', delayMs: 4000 });
  const other = symbol === 'BTCUSDT' ? 'ETHUSDT' : 'BTCUSDT';
  let killedInFlight = false;
  for (const [sym, action] of [
    [other, 'enter-long'],
    [other, 'enter-short'],
    [symbol, 'enter-long'],
    [symbol, 'enter-short'],
  ] as const) {
    const answer = await Promise.race([decide(sym, action), taken('latency-spike', 15_000).then(() => 'in flight')]);
    killedInFlight = answer === 'in flight' || (await taken('latency-spike', 5_000));
    log(`life ${life}: ${action} ${sym}: ${answer.slice(0, 120)}`);
    if (killedInFlight) break;
  }
  const health = await getJson<Health>(`${proc.base}/healthz`).catch((e: unknown) => String(e));
  log(`live life ${life}: faults ${JSON.stringify(faults())}; healthz ${JSON.stringify(health).slice(0, 200)}`);
  await proc.kill9();
  return { proc, killedInFlight };
}

/**
 * Scenario 8: live mode (`sapphire serve TRADING_MODE=live`) against the exchange simulator,
 * killed with SIGKILL while order requests are in flight, with lost order responses, user-stream
 * drops while fills are pending and the exchange clock skewed both ways. After a last life
 * settles: no client order id reached the exchange twice, every exchange fill is in the
 * service's journal with its quantity, and the service's positions equal the exchange's.
 */
export async function liveModeScenario(opts: LiveModeOptions): Promise<SoakRow[]> {
  const log = opts.log ?? (() => undefined);
  let skew = 0;
  const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT', 'ETHUSDT'] });
  const sim = await startExchangeSimulator({
    series,
    replayMs: 0,
    startIndex: 400,
    initialBalance: 10_000,
    credentials: [KEY],
    clock: { now: () => Date.now() + skew },
  });
  const port = await freePort();
  const journal = join(tempDir('live'), 'journal.jsonl');
  const spawn = () =>
    spawnServe(
      port,
      {
        ...ACTIVE_STRATEGY,
        TRADING_MODE: 'live',
        ENABLE_PAPER_TRADING: 'false',
        ASTER_REST_URL: sim.restUrl,
        ASTER_WS_URL: sim.wsUrl,
        SYMBOLS: 'BTCUSDT,ETHUSDT',
        JOURNAL_PATH: journal,
        // every restart is from a snapshot with a short tail after it (issue 14 item 10)
        JOURNAL_SNAPSHOT_EVERY: '10',
        ASTER_ABSENT_LOOKUP_SPACING_MS: '200',
        LOG_LEVEL: 'silent',
        // the scenario's own entries come right after exits and stop-outs: no rest between them
        COOLDOWN_BARS: '0',
        // stops far away: the scenario's own entries and exits drive the book, not stop-outs
        ATR_STOP_MULTIPLE: '50',
        STOPLOSS_GUARD_TRADES: '0',
        RATE_LIMIT_PER_MINUTE: '1000',
        // the scenario's orders are momentum's own: serve's embedded agents stay off
        AGENTS_ENABLED: 'false',
      },
      { ADMIN_API_TOKEN: TOKEN, ASTER_API_KEY: KEY.apiKey, ASTER_SECRET_KEY: KEY.secretKey },
    );
  const ticker = setInterval(() => sim.advance(1), opts.barEveryMs ?? 100);
  let proc: ServeProcess | null = null;
  let inFlightKills = 0;
  try {
    for (let life = 0; life <= opts.kills; life++) {
      const last = life === opts.kills;
      const r = await runLife(life, spawn, sim, (ms) => (skew = ms), last, log);
      proc = r.proc;
      if (r.killedInFlight) inFlightKills++;
      log(`live life ${life}: ${sim.state(KEY.apiKey).orders.length} exchange orders so far`);
    }
    // settle: the market steps one bar per look (the book shows a fill at the next bar's
    // snapshot), the last life catches up and agrees (or says it does not)
    clearInterval(ticker);
    const p = proc!;
    const agreed = await until(
      'the service to agree with the exchange',
      async () => {
        sim.advance(1);
        await sleep(100);
        const view = await getJson<View>(`${p.base}/dashboard`);
        const theirs = sim
          .state(KEY.apiKey)
          .positions.filter((x) => x.amount !== 0)
          .map((x) => `${x.symbol} ${x.amount}`)
          .sort();
        const ours = view.positions.map((x) => `${x.symbol} ${x.side === 'LONG' ? x.quantity : -x.quantity}`).sort();
        return JSON.stringify(ours) === JSON.stringify(theirs) ? { ours, theirs } : undefined;
      },
      20_000,
      250,
    ).catch(() => null);
    // awaited here, or the finally below kills the service while the report still asks it
    return await report(sim, journal, p, { kills: opts.kills, inFlightKills, agreed: agreed !== null });
  } finally {
    clearInterval(ticker);
    await proc?.kill9();
    await sim.close();
  }
}

async function report(
  sim: ExchangeSimulator,
  journal: string,
  proc: ServeProcess,
  run: { kills: number; inFlightKills: number; agreed: boolean },
): Promise<SoakRow[]> {
  const state = sim.state(KEY.apiKey);
  const ids = state.orders.map((o) => o.clientOrderId);
  const doubled = ids.length - new Set(ids).size;
  const theirs = exchangeFills(sim);
  const ours = journaledFills(journal);
  const lost = [...theirs].filter(([id, qty]) => !close(ours.get(id) ?? 0, qty));
  // 503 (not ok) still carries the reason: read the body whatever the status
  const health = await fetch(`${proc.base}/healthz`)
    .then(async (r) => (await r.json()) as Health)
    .catch(() => null);
  const positions = state.positions
    .filter((x) => x.amount !== 0)
    .map((x) => `${x.symbol} ${x.amount}`)
    .join(', ');
  const f = state.faults;
  const injected =
    `${run.kills} SIGKILLs (${run.inFlightKills} with an order request in flight), ${f['unknown-503']} lost order responses, ` +
    `${f['drop-user-ws']} user-stream drops with a fill pending, ${f['delayed-fill']} delayed fills, exchange clock skewed +8 s / -3 s and back`;
  return [
    {
      scenario: '8 live mode',
      injected,
      count: ids.length,
      held: doubled === 0,
      figures: `${ids.length} exchange orders, ${doubled} client order ids sent twice`,
    },
    {
      scenario: '8 live mode',
      injected: 'fills at the exchange against the fills the service journaled',
      count: theirs.size,
      held: lost.length === 0,
      figures: `${state.fills.length} exchange fills on ${theirs.size} orders; ${lost.length} lost or short${
        lost.length > 0
          ? `: ${lost
              .slice(0, 3)
              .map(([id, q]) => `${id} ${q} vs ${ours.get(id) ?? 0}`)
              .join('; ')}`
          : ''
      }`,
    },
    {
      scenario: '8 live mode',
      injected: 'positions at the end, service against exchange',
      count: state.positions.length,
      held: run.agreed,
      figures: `${run.agreed ? 'equal' : 'DIFFERENT'} (exchange: ${positions || 'flat'}); healthz ok=${health?.ok ?? 'n/a'}, last_error=${health?.last_error ?? 'none'}`,
    },
  ];
}
