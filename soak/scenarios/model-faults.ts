import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ACTIVE_STRATEGY } from './crash-restart.ts';
import { fmt, freePort, getJson, percentile, sleep, spawnServe, tempDir, until, type SoakRow } from '../kit.ts';

/**
 * Scenario 9: `sapphire serve` (paper, embedded market) with both agents remote at a loopback model
 * peer that fails the way real servers do — 429 with a Retry-After beyond the deadline, 500, an
 * answer slower than the deadline, an oversized reply, a malformed one — and, for the thesis, also
 * valid replies wrapped in `<think>` reasoning. Then the peer heals (valid replies, `<think>`
 * included). Measured: how long each decision (agent × symbol × bar) was held, from the first
 * request the peer saw to the last one's end (answered or abandoned by the service), against
 * AGENT_DECISION_DEADLINE_SECONDS; bars taken while the faults lasted; faults by kind in /metrics;
 * /healthz degraded while they last and ok after; the process alive throughout.
 */

type Phase = 'faults' | 'healthy';
const THESIS_FAULTS = ['429', '500', 'slow', 'oversized', 'malformed', 'think'] as const;
const FORECAST_FAULTS = ['429', '500', 'slow', 'oversized', 'malformed'] as const;
type Behaviour = (typeof THESIS_FAULTS)[number] | 'valid';
/** fault kinds the service must count for each agent (http-429 … as agents/gateway.ts names them) */
const EXPECTED_FAULTS = ['http-429', 'http-5xx', 'deadline', 'oversized', 'invalid-reply'];
const SLOW_MS = 30_000;
const OVERSIZED_BYTES = 400_000;

interface Hold {
  first: number;
  lastEnd: number;
  requests: number;
}

const completion = (content: string): string =>
  JSON.stringify({
    id: 'soak-model-faults',
    model: 'soak-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });

function validThesis(prompt: string, think: boolean): string {
  const side = /proposes going long/.test(prompt) ? 'buy' : 'sell';
  const json = JSON.stringify({
    thesis: `Momentum and volume agree on a ${side} here.`,
    side,
    risk_score: '55%',
    confidence: '0.7',
  });
  return completion(think ? `<think>The closes rise; volume is steady.</think>\n${json}` : json);
}

function validForecast(body: { closes: number[]; horizon: number }): string {
  const last = body.closes[body.closes.length - 1]!;
  const pts = Array.from({ length: body.horizon }, () => last);
  return JSON.stringify({ forecast: pts, lower_ci: pts.map((p) => p * 0.995), upper_ci: pts.map((p) => p * 1.005) });
}

/** The loopback model peer: answers by phase, in turn, and times every decision it is asked about. */
async function faultyModel(): Promise<{
  url: string;
  phase: Phase;
  holds: Map<string, Hold>;
  served: Record<string, number>;
  close(): Promise<void>;
}> {
  const state = { phase: 'faults' as Phase, thesisTurn: 0, forecastTurn: 0 };
  const holds = new Map<string, Hold>();
  const served: Record<string, number> = {};
  const open = new Set<ServerResponse>();

  const answer = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // answered as malformed below: the service never sends this
    }
    const forecast = req.url === '/forecast';
    if (!forecast && body.max_tokens === 1) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(completion('pong'));
      return;
    }
    const prompt = forecast ? '' : ((body.messages as { content: string }[] | undefined)?.[1]?.content ?? '');
    const key = forecast
      ? `forecast|${String(body.symbol)}|${String(body.time)}`
      : `thesis|${/Symbol: (\S+)/.exec(prompt)?.[1]}|${/Bar close time \(UTC\): (\S+)/.exec(prompt)?.[1]}`;
    const now = performance.now();
    const hold = holds.get(key) ?? { first: now, lastEnd: now, requests: 0 };
    hold.requests++;
    holds.set(key, hold);
    res.once('close', () => {
      hold.lastEnd = Math.max(hold.lastEnd, performance.now());
      open.delete(res);
    });
    open.add(res);
    let b: Behaviour = 'valid';
    if (state.phase === 'faults') {
      b = forecast
        ? FORECAST_FAULTS[state.forecastTurn++ % FORECAST_FAULTS.length]!
        : THESIS_FAULTS[state.thesisTurn++ % THESIS_FAULTS.length]!;
    }
    const tag = `${forecast ? 'forecast' : 'thesis'}:${b}`;
    served[tag] = (served[tag] ?? 0) + 1;
    const json = { 'content-type': 'application/json' };
    switch (b) {
      case '429':
        res.writeHead(429, { ...json, 'retry-after': '30' }).end('{"error":"rate limited"}');
        return;
      case '500':
        res.writeHead(500, json).end('{"error":"internal"}');
        return;
      case 'slow': {
        const timer = setTimeout(() => res.writeHead(200, json).end(completion('{}')), SLOW_MS);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case 'oversized':
        res.writeHead(200, json).end(completion('x'.repeat(OVERSIZED_BYTES)));
        return;
      case 'malformed':
        res.writeHead(200, json).end(forecast ? '{"prediction":"up"}' : completion('I am not sure what you mean.'));
        return;
      default:
        res
          .writeHead(200, json)
          .end(forecast ? validForecast(body as { closes: number[]; horizon: number }) : validThesis(prompt, true));
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get phase() {
      return state.phase;
    },
    set phase(p: Phase) {
      state.phase = p;
    },
    holds,
    served,
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.close(() => r());
      }),
  };
}

interface Health {
  ok: boolean;
  degraded: boolean;
  last_bar_time: string | null;
  agents: { agents: Record<string, { available: boolean; faults: Record<string, number> }> } | null;
}

/** One gauge's value from the Prometheus text, or 0. */
const gauge = (metrics: string, name: string): number =>
  Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? 0);

/** agent_faults_total by agent and fault, from the Prometheus text. */
function faultCounts(metrics: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const m of metrics.matchAll(/^agent_faults_total\{agent="([^"]+)",fault="([^"]+)"\} (\d+)/gm)) {
    (out[m[1]!] ??= {})[m[2]!] = Number(m[3]);
  }
  return out;
}

/**
 * Polls /healthz until the fault phase ends or the process dies: how many polls saw the agents
 * faulted, and how many of those said degraded.
 */
async function pollFaultPhase(
  faultMs: number,
  health: () => Promise<Health>,
  alive: () => boolean,
): Promise<{ polls: { n: number; degraded: number; afterFirstFault: number }; crashed: boolean }> {
  const polls = { n: 0, degraded: 0, afterFirstFault: 0 };
  let crashed = !alive();
  const ends = performance.now() + faultMs;
  while (performance.now() < ends && !crashed) {
    const h = await health().catch(() => null);
    crashed = !alive();
    if (h !== null) {
      polls.n++;
      const faulted = Object.values(h.agents?.agents ?? {}).some((a) => Object.keys(a.faults).length > 0);
      if (faulted) polls.afterFirstFault++;
      if (faulted && h.degraded) polls.degraded++;
    }
    await sleep(250);
  }
  return { polls, crashed };
}

/** Waits for /healthz ok and not degraded once the peer healed (null if it never is), and how long that took. */
async function awaitRecovery(
  health: () => Promise<Health>,
  alive: () => boolean,
): Promise<{ recovered: Health | null; recoverS: number }> {
  const healed = performance.now();
  const recovered = await until(
    '/healthz ok and not degraded after the faults',
    async () => {
      if (!alive()) throw new Error('serve exited');
      const h = await health();
      return h.ok && !h.degraded && h.agents !== null ? h : undefined;
    },
    120_000,
    250,
  ).catch(() => null);
  return { recovered, recoverS: (performance.now() - healed) / 1000 };
}

export interface ModelFaultOptions {
  /** how long the peer fails */
  faultMs: number;
  /** AGENT_DECISION_DEADLINE_SECONDS */
  deadlineSeconds?: number;
  /** SIMULATOR_REPLAY_MS: one bar per this many ms */
  replayMs?: number;
  log?: (line: string) => void;
}

export async function modelFaultsScenario(opts: ModelFaultOptions): Promise<SoakRow[]> {
  const deadlineS = opts.deadlineSeconds ?? 0.4;
  const replayMs = opts.replayMs ?? 500;
  const log = opts.log ?? (() => undefined);
  const model = await faultyModel();
  const port = await freePort();
  const proc = spawnServe(port, {
    ...ACTIVE_STRATEGY,
    AGENTS_ENABLED: 'true',
    FINGPT_ENDPOINT: model.url,
    FINGPT_MODEL: 'soak-model',
    LAGLLAMA_ENDPOINT: `${model.url}/forecast`,
    AGENT_DECISION_DEADLINE_SECONDS: String(deadlineS),
    SIMULATOR_REPLAY_MS: String(replayMs),
    JOURNAL_PATH: join(tempDir('model-faults'), 'journal.jsonl'),
    LOG_LEVEL: 'silent',
  });
  const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
  const health = () => getJson<Health>(`${proc.base}/healthz`);
  try {
    await until(
      'the service',
      async () => {
        if (!alive()) throw new Error(`serve exited: ${proc.output().slice(-300)}`);
        return health();
      },
      60_000,
    );
    // the faults phase: poll /healthz, bounded by the phase's length
    const startBar = Date.parse((await health()).last_bar_time ?? '') || 0;
    // the peer (this process) times the holds: its own stalls would count as the service's
    const runnerLag = monitorEventLoopDelay({ resolution: 10 });
    // prom-client resets its event-loop monitor on each scrape: this one drops the start-up's stalls
    await fetch(`${proc.base}/metrics`).then((r) => r.text());
    runnerLag.enable();
    const faultPhase = await pollFaultPhase(opts.faultMs, health, alive);
    const { polls } = faultPhase;
    let crashed = faultPhase.crashed;
    const during = await health();
    const barsDuring = (Date.parse(during.last_bar_time ?? '') - startBar) / 300_000;
    runnerLag.disable();
    const metrics = await (await fetch(`${proc.base}/metrics`)).text();
    const faults = faultCounts(metrics);
    // the service's worst event-loop stall during the fault phase (since the scrape above)
    const serviceLagS = gauge(metrics, 'nodejs_eventloop_lag_max_seconds');
    const runnerLagS = runnerLag.max / 1e9;
    log(`model faults: ${JSON.stringify(faults)} served ${JSON.stringify(model.served)}`);
    const holds = [...model.holds.values()].map((h) => (h.lastEnd - h.first) / 1000);
    model.phase = 'healthy';
    const { recovered, recoverS } = await awaitRecovery(health, alive);
    crashed ||= !alive();

    const maxHold = holds.length > 0 ? Math.max(...holds) : null;
    const p99 = percentile(holds, 99);
    // loopback and scheduling; a stall of either event loop (2 shared cores, other jobs) adds its length
    const slackS = 0.25;
    const bound = deadlineS + slackS + serviceLagS + runnerLagS;
    const kindsOk = ['fingpt', 'lagllama'].every((a) => EXPECTED_FAULTS.every((k) => (faults[a]?.[k] ?? 0) > 0));
    const expectedBars = opts.faultMs / replayMs;
    const degradedShare = polls.afterFirstFault > 0 ? polls.degraded / polls.afterFirstFault : 0;
    const held =
      !crashed &&
      kindsOk &&
      maxHold !== null &&
      p99 !== null &&
      p99 <= deadlineS + slackS &&
      maxHold <= bound &&
      degradedShare >= 0.9 &&
      recovered !== null &&
      barsDuring >= expectedBars / 2;
    const faultText = ['fingpt', 'lagllama']
      .map((a) => `${a} ${EXPECTED_FAULTS.map((k) => `${k} ${faults[a]?.[k] ?? 0}`).join(', ')}`)
      .join('; ');
    return [
      {
        scenario: '9 model faults',
        injected: `${(opts.faultMs / 1000).toFixed(0)} s of 429 (Retry-After 30 s), 500, slow (${SLOW_MS / 1000} s), ${OVERSIZED_BYTES / 1000} kB, malformed and <think> replies from both remote agents, then valid ones`,
        count: Object.values(model.served).reduce((a, b) => a + b, 0),
        held,
        figures:
          `decision hold per agent×symbol×bar (n=${holds.length}): p50 ${fmt(percentile(holds, 50), 3)} s, ` +
          `p99 ${fmt(p99, 3)} s, max ${fmt(maxHold, 3)} s vs deadline ${deadlineS} s ` +
          `(event-loop stalls: service ${fmt(serviceLagS, 3)} s, peer ${fmt(runnerLagS, 3)} s); ` +
          `${barsDuring.toFixed(0)} bars taken in the fault phase (market gave ${expectedBars.toFixed(0)}); ` +
          `faults in /metrics: ${faultText}; /healthz degraded in ${(degradedShare * 100).toFixed(0)} % of ${polls.afterFirstFault} polls while faulting, ` +
          `${recovered ? `ok and not degraded ${recoverS.toFixed(1)} s after the peer healed` : 'never recovered'}; ` +
          `${crashed ? 'the process DIED' : 'no crash'}`,
      },
    ];
  } finally {
    await proc.kill9();
    await model.close();
  }
}
