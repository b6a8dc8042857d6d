import { existsSync, readdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Bar, SymbolFilters } from '../../pipelines/model/index.ts';
import type { ClockPort, JournalEntry } from '../../pipelines/ports.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { FileJournal, type JournalTail } from '../journal/file-journal.ts';
import { acquireJournalLock } from '../journal/journal-lock.ts';
import type { JournalMeta } from '../journal/journal-schema.ts';
import { TradingEngine } from '../engine/trading-engine.ts';
import { kernelIdentity } from '../engine/kernel.ts';
import { journalKernelChanges, kernelMismatch } from '../engine/engine-snapshot.ts';
import { ServiceMetrics } from '../telemetry/metrics.ts';
import { RedisStreams, RingBufferStreams, type StreamStore } from '../telemetry/streams.ts';
import { telemetryPublisher } from '../telemetry/publisher.ts';
import { buildApp } from './app.ts';
import { TelegramNotifier } from '../telegram/telegram-notifier.ts';
import { buildAgents } from '../../agents/build-agents.ts';
import { probeThesisModel } from '../../agents/thesis-client.ts';
import { agentStage, newAgentStageCounts, type AgentStageCounts } from '../../operators/agents/agents.ts';
import { agentHealth, type AgentHealth } from '../../operators/agents/agent-health.ts';
import type { AgentOpinion } from '../../pipelines/model/index.ts';
import type { AgentPort } from '../../pipelines/ports.ts';
import type { AsterSourceHooks, MarketSource, StartEmbeddedExchange } from './market-source.ts';
import { openMarketSource } from './aster-source.ts';
import { systemClock } from '../../runtime/timers.ts';

export interface RunningService {
  app: FastifyInstance;
  engine: TradingEngine;
  url: string;
  market: MarketSource;
  settings: Settings;
  /** resolves with the reason if the pipeline dies (nothing trades, bot-held stops lapse) */
  failed: Promise<string>;
  /** live pipeline events (never the journal replay); returns an unsubscribe function */
  onEvents(listener: (e: PipelineEvent) => void): () => void;
  /**
   * Shuts down in order: no new inputs (market feed off, queued inputs finished), Telegram off,
   * event streams ended and the API closed, journal closed, telemetry flushed, market closed,
   * the journal lock released. Exchange-side protective orders are left in place.
   */
  close(): Promise<void>;
}

export interface ServiceOptions {
  clock?: ClockPort;
  /** listen port override (0 = any free port, for tests) */
  port?: number;
  logger?: boolean;
  dashboard?: Parameters<typeof buildApp>[0]['dashboard'];
  /** where start-up notices go (a stale journal lock taken over); stderr by default */
  log?: (line: string) => void;
  /** the exchange simulator to trade on when ASTER_REST_URL is empty (`startExchangeSimulator`) */
  embeddedExchange?: StartEmbeddedExchange;
}

/** Listens, or fails with the cause in words (EADDRINUSE becomes "PORT=8080 is in use"). */
async function listenOrExplain(app: FastifyInstance, port: number, host: string): Promise<string> {
  try {
    return await app.listen({ port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? `PORT=${port} is in use on ${host} (another service?): stop it or choose another PORT`
        : code === 'EACCES'
          ? `PORT=${port} on ${host} needs privileges: choose a PORT above 1023`
          : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
            ? `HOST=${host} is not an address of this machine`
            : `cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`;
    throw new SapphireError('SETTINGS_INVALID', `${why}; nothing was traded`, { cause: error });
  }
}

/**
 * The agent stage of the live service (AGENTS_ENABLED): embedded agents, or remote ones through
 * the gateway. Remote outcomes (replies and faults) are taped beside the journal (call-through),
 * unless AGENT_TAPE and AGENT_TAPE_MODE say otherwise. While the journal is replayed
 * (`replaying`) the tape alone answers: a replay never calls a model, so it reproduces the
 * recorded decisions synchronously and cannot produce a decision the recorded run did not make.
 */
export function agentsFor(
  settings: Settings,
  metrics: ServiceMetrics,
  replaying: () => boolean,
  counts: AgentStageCounts = newAgentStageCounts(),
) {
  if (!settings.AGENTS_ENABLED) return undefined;
  const remote = settings.FINGPT_ENDPOINT !== '' || settings.LAGLLAMA_ENDPOINT !== '';
  const withTape =
    remote && settings.AGENT_TAPE === ''
      ? withOverrides(
          settings,
          { AGENT_TAPE: `${settings.JOURNAL_PATH}.agents.jsonl`, AGENT_TAPE_MODE: 'call-through' },
          'the service',
        )
      : settings;
  const timed = buildAgents(withTape, { replaying }).agents.map((agent): AgentPort => ({
    name: agent.name,
    opinion(context) {
      const started = performance.now();
      const observe = (opinion: AgentOpinion) => {
        metrics.llmInferenceTime.observe({ agent: agent.name }, (performance.now() - started) / 1000);
        metrics.llmConfidence.set({ agent: agent.name }, opinion.confidence);
        return opinion;
      };
      const answer = agent.opinion(context);
      return answer instanceof Promise ? answer.then(observe) : observe(answer);
    },
  }));
  return agentStage(withTape, timed, { counts });
}

/** The shortest admin token accepted where real money trades (live mode, the orchestrator). */
export const MIN_LIVE_TOKEN_LENGTH = 32;

/** Live mode needs real credentials AND an admin token, and paper trading switched off. */
export function checkModeRequirements(settings: Settings): void {
  if (settings.TRADING_MODE !== 'live') return;
  const missing: string[] = [];
  const hmac = settings.ASTER_API_KEY !== '' && settings.ASTER_SECRET_KEY !== '';
  const wallet = settings.ASTER_USER !== '' && settings.ASTER_SIGNER !== '' && settings.ASTER_SIGNER_PRIVATE_KEY !== '';
  if (!hmac && !wallet) {
    missing.push(
      'exchange credentials (ASTER_API_KEY + ASTER_SECRET_KEY, or ASTER_USER + ASTER_SIGNER + ASTER_SIGNER_PRIVATE_KEY)',
    );
  }
  if (settings.ADMIN_API_TOKEN === '') missing.push('ADMIN_API_TOKEN');
  else if (settings.ADMIN_API_TOKEN.length < MIN_LIVE_TOKEN_LENGTH) {
    // real money behind the admin routes: a token that cannot be guessed (the token itself is never printed)
    missing.push(
      `an ADMIN_API_TOKEN of at least ${MIN_LIVE_TOKEN_LENGTH} characters (ADMIN_API_TOKEN must be at least ${MIN_LIVE_TOKEN_LENGTH} characters in live mode (it has ${settings.ADMIN_API_TOKEN.length}); e.g. openssl rand -hex 32)`,
    );
  }
  if (settings.ENABLE_PAPER_TRADING) missing.push('ENABLE_PAPER_TRADING=false');
  if (settings.ASTER_REST_URL === '')
    missing.push('ASTER_REST_URL (live mode never trades against the embedded simulator)');
  if (missing.length > 0) {
    throw new SapphireError('SETTINGS_INVALID', `TRADING_MODE=live refuses to start without ${missing.join(', ')}`);
  }
}

function reportsIn(dir: string): () => string[] {
  return () => {
    if (!existsSync(dir)) return [];
    const out: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith('.html')) {
        const parent = (entry as unknown as { parentPath?: string; path?: string }).parentPath ?? '';
        out.push(`${parent.slice(dir.length).replace(/^\/+/, '')}/${entry.name}`.replace(/^\//, ''));
      }
    }
    return out.sort();
  };
}

/** exchange issues that leave an order, a cancel or a payment unsettled: /healthz shows them */
const SETTLES_NOTHING = new Set(['order-unknown', 'cancel-failed', 'funding-unattributed']);

/**
 * Assembles and starts the trading service: market source (embedded simulator or Aster),
 * venue (simulated for paper), journal, telemetry, metrics, engine, then the HTTP API.
 */
export async function startService(input: Settings, options: ServiceOptions = {}): Promise<RunningService> {
  checkModeRequirements(input);
  const log = options.log ?? ((line: string) => console.error(line));
  // one process per journal, taken before the journal is read
  const lock = acquireJournalLock(input.JOURNAL_PATH, log);
  // what is open so far, closed in reverse if the start fails: a failed start leaves nothing
  // running (no market feed, no simulator, no lock) so the process can exit non-zero
  const opened: { what: string; close: () => unknown }[] = [{ what: 'journal lock', close: () => lock.release() }];
  try {
    return await assemble(input, options, opened, () => lock.release());
  } catch (error) {
    for (const o of opened.reverse()) {
      try {
        await o.close();
      } catch (closeError) {
        log(`sapphire: closing the ${o.what} after a failed start: ${String(closeError)}`);
      }
    }
    throw error;
  }
}

/** What the exchange connection reports: request metrics, and issues logged, counted and shown. */
function exchangeHooks(
  metrics: ServiceMetrics,
  log: ((line: string) => void) | undefined,
  engine: () => TradingEngine | null,
): AsterSourceHooks {
  return {
    onRequest: (info) => {
      metrics.asterRequests.inc({ path: info.path, status: String(info.status) });
      metrics.asterLatency.observe({ path: info.path }, info.latencyMs / 1000);
      if (info.status === 429 || info.status === 418) metrics.rateLimitEvents.inc({ kind: `exchange-${info.status}` });
    },
    onIssue: (issue) => {
      metrics.exchangeIssues.inc({ source: issue.source, kind: issue.kind });
      const line = `exchange ${issue.source} ${issue.kind}: ${issue.detail}`;
      (log ?? ((l: string) => console.error(l)))(line);
      // a dropped socket reconnects by itself; what may hide an order or a fill degrades /healthz
      // (a foreign fill may be our own order of an earlier life: logged and counted only)
      const e = engine();
      if (e !== null && (SETTLES_NOTHING.has(issue.kind) || issue.detail.startsWith('user-data catch-up')))
        e.lastError = line;
    },
  };
}

/** Another bot's or mode's journal is refused, never set aside. */
function refuseForeignJournal(seen: JournalMeta, identity: JournalMeta, path: string): void {
  if (seen.mode === identity.mode && seen.botId === identity.botId && seen.symbols.join() === identity.symbols.join())
    return;
  throw new SapphireError(
    'SETTINGS_INVALID',
    `JOURNAL_PATH=${path} belongs to ${seen.mode} bot ${seen.botId} on ${seen.symbols.join(',')}; ` +
      `this start is ${identity.mode} bot ${identity.botId} on ${identity.symbols.join(',')}: use another JOURNAL_PATH`,
  );
}

/** Redis Streams when REDIS_URL is set, else an in-memory ring. */
function telemetryStore(settings: Settings, metrics: ServiceMetrics): StreamStore {
  return settings.REDIS_URL !== ''
    ? new RedisStreams({
        url: settings.REDIS_URL,
        maxLen: settings.REDIS_STREAM_MAXLEN,
        onFailure: () => metrics.redisStreamFailures.inc(),
      })
    : new RingBufferStreams(settings.REDIS_STREAM_MAXLEN);
}

/** The Telegram commands; they read the engine when a command arrives (null while starting). */
function telegramCommands(settings: Settings, engine: () => TradingEngine | null) {
  const money = (v: number) => v.toFixed(2);
  return {
    status: () => {
      const e = engine();
      return e
        ? `${e.running ? 'running' : 'stopped'} · ${settings.TRADING_MODE} · risk ${e.read.riskState}` +
            (e.lastError ? ` · last error: ${e.lastError}` : '')
        : 'starting';
    },
    portfolio: () => {
      const p = engine()?.read.portfolio;
      return p
        ? `equity ${money(p.equity)} USDT · balance ${money(p.balance)} · drawdown ${(p.drawdown * 100).toFixed(2)} % · exposure ${money(p.grossExposure)}`
        : 'no portfolio yet';
    },
    positions: () => {
      const ps = engine()?.read.portfolio?.positions ?? [];
      return ps.length === 0
        ? 'no open positions'
        : ps
            .map(
              (p) =>
                `${p.symbol} ${p.quantity > 0 ? 'LONG' : 'SHORT'} ${Math.abs(p.quantity)} @ ${p.entryPrice} (uPnL ${money(p.unrealizedPnl)})`,
            )
            .join('\n');
    },
    stop: async () => {
      const e = engine();
      if (!e) return 'not started yet';
      const why = e.unavailable;
      if (why !== null) return `not stopped: ${why}`;
      await e.stop('Telegram /stop');
      return 'stopped: no new entries; stops and exits keep working';
    },
  };
}

/** What /healthz and the dashboard say of the service's peers. */
function serviceProbe(
  settings: Settings,
  market: { status(): string },
  streams: StreamStore,
  agents: () => AgentHealth | null,
) {
  const model = (endpoint: string) => (!settings.AGENTS_ENABLED ? 'disabled' : endpoint ? 'remote' : 'embedded');
  return {
    mode: settings.TRADING_MODE,
    exchange: () => market.status(),
    redis: () => {
      const st = streams.status();
      return st.backend === 'memory' ? 'in-memory' : st.healthy ? 'connected' : 'down';
    },
    models: () => [
      { name: 'thesis', status: model(settings.FINGPT_ENDPOINT) },
      { name: 'forecast', status: model(settings.LAGLLAMA_ENDPOINT) },
    ],
    agents,
  };
}

type JournalRead = { header: JournalEntry | null; tail: JournalTail };

/**
 * The journal's header and what follows its last snapshot, validated before anything is opened
 * that could trade (the bytes before the snapshot are never read); `journaledUntil` is where a
 * restarted service's embedded market resumes.
 */
function openJournal(
  input: Settings,
  opened: { what: string; close: () => unknown }[],
): JournalRead & { journal: FileJournal; journaledUntil: number } {
  const journal = new FileJournal(input.JOURNAL_PATH);
  opened.push({ what: 'journal', close: () => journal.close() });
  const header = journal.readFirst();
  const tail = journal.readSinceSnapshot();
  let journaledUntil = tail.snapshot?.lastInputTime ?? -Infinity;
  for (const e of tail.entries) if (e.type === 'bar') journaledUntil = e.time;
  return { journal, header: header ?? null, tail, journaledUntil };
}

/**
 * Whose journal it is comes first (another bot's or mode's is refused, never set aside); then
 * whether these settings and this code made it. A mismatch stops the start, or with
 * START_FROM_EXCHANGE sets the journal aside: a history these settings did not make is never
 * re-derived, and the book is compared with the exchange before anything is sent.
 */
function checkJournal(
  journal: FileJournal,
  read: JournalRead,
  settings: Settings,
  filters: ReadonlyMap<string, SymbolFilters>,
  clock: ClockPort,
  log: ((line: string) => void) | undefined,
): JournalRead & { identity: JournalMeta } {
  const header = read.header?.type === 'meta' ? read.header : null;
  const kernel = kernelIdentity(settings, filters);
  const identity: JournalMeta = {
    mode: settings.TRADING_MODE,
    botId: settings.BOT_ID,
    symbols: settings.SYMBOLS,
    kernel: kernel.kernel,
    fingerprint: kernel.fingerprint,
    code: kernel.code,
    settings: JSON.stringify(kernel.settings),
  };
  if (header) refuseForeignJournal(header.data as JournalMeta, identity, settings.JOURNAL_PATH);
  const changes = journalKernelChanges(header?.data as JournalMeta | undefined, read.tail.snapshot, kernel);
  if (changes === null) return { identity, header, tail: read.tail };
  if (!settings.START_FROM_EXCHANGE) throw kernelMismatch(settings.JOURNAL_PATH, changes);
  const old = journal.setAside(clock.now());
  (log ?? ((line: string) => console.error(line)))(
    `sapphire: ${changes}; START_FROM_EXCHANGE: the journal was set aside as ${old}, starting from the exchange`,
  );
  return { identity, header: null, tail: { snapshot: null, entries: [] } };
}

/**
 * The agent stage the settings ask for, its health figures for /healthz and /metrics, and the
 * start-up probe of a remote thesis model (a wrong model name or URL shows at start, in /healthz
 * and the log, not at the first signal). Until the engine exists, and while it replays its
 * journal, only the tape answers.
 */
function agentSetup(
  settings: Settings,
  metrics: ServiceMetrics,
  engine: () => TradingEngine | null,
  log: ((line: string) => void) | undefined,
) {
  const counts = newAgentStageCounts();
  const agents = agentsFor(settings, metrics, () => engine()?.replayingJournal !== false, counts);
  const agentFigures = () => (agents === undefined ? null : agentHealth(counts));
  metrics.watchAgents(agentFigures);
  let problem: string | null = null;
  if (agents !== undefined && settings.FINGPT_ENDPOINT !== '' && settings.AGENT_TAPE_MODE !== 'replay') {
    void probeThesisModel(settings).then((found) => {
      if (found === null) return;
      (log ?? ((line: string) => process.stderr.write(`${line}\n`)))(found);
      problem = found;
      const e = engine();
      if (e !== null && e.lastError === null) e.lastError = found;
    });
  }
  return { agents, agentFigures, probeProblem: () => problem };
}

/** Nothing new first (no bar, no command, no entry), then every peer, in order. */
async function shutDown(parts: {
  engine: TradingEngine;
  telegram: TelegramNotifier;
  app: FastifyInstance;
  journal: FileJournal;
  streams: StreamStore;
  market: MarketSource;
  release: () => void;
}): Promise<void> {
  await parts.engine.shutdown();
  await parts.telegram.stop();
  // the app's preClose hook ends every /events stream, so close does not wait on them
  await parts.app.close();
  parts.journal.close();
  await parts.streams.close();
  await parts.market.close();
  parts.release();
}

/** What `/inference/chat` forwards to (the thesis model's endpoint). */
const chatProxyOptions = (settings: Settings) => ({
  endpoint: settings.FINGPT_ENDPOINT,
  apiKey: settings.FINGPT_API_KEY,
  model: settings.FINGPT_MODEL,
  timeoutMs: settings.LLM_TIMEOUT_SECONDS * 1000,
});

/** The settings as the market source trades them (symbols it does not list dropped) and their filters. */
function tradedBy(input: Settings, market: MarketSource) {
  const settings =
    market.symbols.join(',') === input.SYMBOLS.join(',')
      ? input
      : withOverrides(input, { SYMBOLS: market.symbols }, 'the market source');
  return { settings, filters: market.filters ?? filtersFor(settings.SYMBOLS) };
}

async function assemble(
  input: Settings,
  options: ServiceOptions,
  opened: { what: string; close: () => unknown }[],
  release: () => void,
): Promise<RunningService> {
  const clock = options.clock ?? systemClock;
  const metrics = new ServiceMetrics(input.BOT_ID);
  const { journal, journaledUntil, ...read } = openJournal(input, opened);
  // the engine is built once the market is open; issues that arrive before land in the log only
  let engineRef: TradingEngine | null = null;
  const market = await openMarketSource(
    input,
    exchangeHooks(metrics, options.log, () => engineRef),
    journaledUntil,
    options.embeddedExchange,
  );
  opened.push({ what: 'market source', close: () => market.close() });
  const { settings, filters } = tradedBy(input, market);

  const { identity, header, tail } = checkJournal(journal, read, settings, filters, clock, options.log);
  const streams = telemetryStore(settings, metrics);
  opened.push({ what: 'telemetry streams', close: () => streams.close() });

  const { agents, agentFigures, probeProblem } = agentSetup(settings, metrics, () => engineRef, options.log);
  const telegram = new TelegramNotifier({
    settings,
    clock,
    onSent: (ok) => metrics.telegramNotifications.inc({ outcome: ok ? 'sent' : 'failed' }),
    commands: telegramCommands(settings, () => engineRef),
  });
  let onFailure: (reason: string) => void = () => {};
  const failed = new Promise<string>((resolve) => {
    onFailure = resolve;
  });
  // every pipeline event goes to the metrics, the telemetry streams, Telegram and the API's listeners
  const listeners = new Set<(e: PipelineEvent) => void>();
  const publish = telemetryPublisher(streams, settings.BOT_ID);
  const sinks = [
    (e: PipelineEvent) => metrics.observe(e),
    publish,
    (e: PipelineEvent) => telegram.onEvent(e),
    (e: PipelineEvent) => listeners.forEach((l) => l(e)),
  ];
  const engine = new TradingEngine({
    ...{ settings, filters, market: market.bars, historyUntil: market.historyUntil, agents, journal, tail },
    ...{ clock, sinks },
    execution: settings.TRADING_MODE === 'paper' ? simulatedVenue(settings, { filters }) : market.execution(),
    onOrderLatency: (s) => metrics.decisionLatency.observe(s),
    onFailure: (reason) => onFailure(reason),
    venue: settings.TRADING_MODE === 'live' ? market.venue : undefined,
    // on a journal with no venue history (new, set aside, or never past its history bars)
    adoptFromExchange: settings.TRADING_MODE === 'live' && settings.START_FROM_EXCHANGE,
    log: (line) => (options.log ?? ((l: string) => console.error(l)))(`sapphire: ${line}`),
  });

  const probe = serviceProbe(settings, market, streams, agentFigures);
  const onEvents = (listener: (e: PipelineEvent) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  const app = await buildApp({
    settings,
    engine,
    streams,
    metrics,
    clock,
    probe,
    dashboard: options.dashboard,
    reportsDir: 'out',
    listReports: reportsIn('out'),
    onEvents,
    chat: chatProxyOptions(settings),
    logger: options.logger,
  });
  engineRef = engine;
  const problem = probeProblem();
  if (problem !== null && engine.lastError === null) engine.lastError = problem;
  let closing: Promise<void> | undefined;
  opened.push({ what: 'HTTP server', close: () => app.close() });
  // bind first: a taken port (or any listen failure) stops the start before the engine exists
  // on the market, so the service never trades without its admin API
  const url = await listenOrExplain(app, options.port ?? settings.PORT, settings.HOST);
  if (!header) journal.appendSync({ type: 'meta', time: clock.now(), data: identity });
  opened.push({ what: 'engine', close: () => engine.shutdown() });
  await engine.start();
  telegram.start();
  return {
    app,
    engine,
    url,
    market,
    settings,
    failed,
    onEvents,
    close() {
      closing ??= shutDown({ engine, telegram, app, journal, streams, market, release });
      return closing;
    },
  };
}

export type { Bar };
