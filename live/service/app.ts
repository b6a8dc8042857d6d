import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { z } from 'zod';
import type { Settings } from '../../pipelines/settings.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import type { ClockPort } from '../../pipelines/ports.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { formatSse } from '../../dashboard/dashboard-view.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';
import type { ServiceMetrics } from '../telemetry/metrics.ts';
import { STREAM_NAMES, type StreamStore } from '../telemetry/streams.ts';
import { adminGuard } from './admin-auth.ts';
import { dashboardView, engineFeed, sseMessages, systemView, type SystemProbe } from './views.ts';
import { proxyChat, type ChatProxyOptions } from './chat-proxy.ts';
import { Desk } from './desk.ts';
import { registerDeskRoutes } from './routes/desk.ts';

export interface AppOptions {
  settings: Settings;
  engine: TradingEngine;
  streams: StreamStore;
  metrics: ServiceMetrics;
  clock: ClockPort;
  probe: SystemProbe;
  /** the dashboard page and reports (GET /, /assets/*, /reports/*) */
  dashboard?: FastifyPluginAsync<{ reportsDir: string }>;
  reportsDir?: string;
  listReports?: () => string[];
  /** subscribe to live pipeline events (for /events); returns an unsubscribe function */
  onEvents: (listener: (e: PipelineEvent) => void) => () => void;
  chat?: ChatProxyOptions;
  logger?: boolean;
}

/** A request failed validation: 400 naming the route and field. */
function badRequest(reply: FastifyReply, where: string, error: z.ZodError): FastifyReply {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? `${where}.${issue.path.join('.')}` : where;
  return reply.code(400).send({ error: 'bad_request', message: `${field}: ${issue.message}` });
}

const StreamParams = z.strictObject({ name: z.enum(STREAM_NAMES) });
const StreamQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/**
 * The admin API and dashboard server (SPEC §5), built from plugins and returned without
 * listening, so tests drive it with `inject()` and the service with `listen()`.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { settings, engine, streams, metrics } = opts;
  const app = Fastify({
    logger: opts.logger
      ? {
          level: settings.LOG_LEVEL,
          // never log credentials: headers are not serialised, only method/url/status
          redact: ['req.headers.authorization', 'req.headers["x-admin-token"]'],
          // request URLs are logged: query values are not (a token sent there is refused, and must not be kept)
          serializers: {
            req: (req: { method: string; url: string; ip?: string }) => ({
              method: req.method,
              url: req.url.replace(/([?&][^=&]*)=[^&]*/g, '$1=[redacted]'),
              remoteAddress: req.ip,
            }),
          },
        }
      : false,
    // request lines go out at debug level (routes/desk.ts): the console shows trading, not traffic
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
  });

  await app.register(cors, {
    origin: (origin, cb) => {
      // same-origin requests carry no Origin header; everything else must be on the list
      if (!origin) return cb(null, true);
      cb(null, settings.CORS_ORIGINS.includes(origin));
    },
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'x-admin-token', 'content-type'],
  });
  await app.register(rateLimit, {
    global: false,
    max: settings.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    onExceeded: () => metrics.rateLimitEvents.inc({ kind: 'api-429' }),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'rate_limited',
      message: `more than ${context.max} requests per minute from this address; retry in ${Math.ceil(context.ttl / 1000)} s`,
    }),
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error.statusCode === 429) return reply.code(429).send(error);
    if (isSapphireError(error)) {
      return reply.code(error.status).send({ error: error.code.toLowerCase(), message: error.message });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: { message: error.message, code: error.code } }, 'request failed');
    // 4xx from Fastify itself (bad JSON, body too large, wrong content type) keep their message;
    // anything else is an internal error and says nothing about internals
    return reply
      .code(status)
      .send(
        status < 500
          ? { error: 'bad_request', message: error.message.slice(0, 200) }
          : { error: 'internal', message: 'internal error' },
      );
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  const admin = adminGuard(settings.ADMIN_API_TOKEN);
  const limited = { config: { rateLimit: { max: settings.RATE_LIMIT_PER_MINUTE, timeWindow: 60_000 } } };
  const desk = new Desk(engine, settings, opts.clock.now());
  opts.onEvents((e) => desk.observe(e));
  registerDeskRoutes(app, { engine, settings, desk, clock: opts.clock, admin, limited });

  app.get('/healthz', async (_request, reply) => {
    const redis = opts.probe.redis();
    // a dead pipeline (or one shutting down) is not healthy: nothing trades, stops are not enforced
    const down = engine.failure !== null || engine.closed;
    if (down) reply.code(503);
    return {
      ok: !down,
      reason: down ? engine.unavailable : null,
      running: engine.running,
      mode: opts.probe.mode,
      paper_trading: settings.TRADING_MODE === 'paper',
      last_error: engine.lastError,
      uptime_s: Math.round(engine.uptimeSeconds()),
      redis,
      exchange: opts.probe.exchange(),
      risk_state: engine.riskState,
      last_bar_time: engine.lastBarTime > 0 ? new Date(engine.lastBarTime).toISOString() : null,
      degraded: redis === 'down' || engine.lastError !== null,
    };
  });

  app.post('/start', { ...limited, preHandler: admin }, async (_request, reply) => {
    if (!engine.started) return reply.code(409).send({ error: 'conflict', message: 'the engine has not started yet' });
    if (engine.riskState === 'HALTED' && !engine.operatorHalted) {
      return reply.code(409).send({
        error: 'conflict',
        message: `halted by the risk stage (${engine.riskReason}); an operator start does not lift the drawdown floor`,
      });
    }
    await engine.resume('POST /start');
    return { running: engine.running, risk_state: engine.riskState };
  });

  app.post('/stop', { ...limited, preHandler: admin }, async () => {
    await engine.stop('POST /stop');
    return {
      running: engine.running,
      risk_state: engine.riskState,
      note: 'new entries stopped; stops and exits still run',
    };
  });

  app.post('/emergency_stop', { ...limited, preHandler: admin }, async (_request, reply) => {
    const why = engine.unavailable;
    if (why !== null) {
      // never a 200 that did nothing: the operator must close the positions at the exchange
      const open = engine.portfolio?.positions.map((p) => p.symbol) ?? [];
      return reply.code(503).send({
        error: 'engine_unavailable',
        message: `${why}: nothing was flattened${open.length > 0 ? `; positions last known open: ${open.join(', ')} — close them at the exchange` : ''}`,
        flattening: 0,
        positions: open,
      });
    }
    const outcome = await engine.emergencyStop('POST /emergency_stop');
    const body = {
      running: engine.running,
      risk_state: engine.riskState,
      flattening: outcome.orders.length + outcome.alreadyFlattening.length,
      orders: outcome.orders.map((o) => ({
        client_order_id: o.clientOrderId,
        symbol: o.symbol,
        side: o.side,
        quantity: o.quantity,
      })),
      already_flattening: outcome.alreadyFlattening,
      uncovered: outcome.uncovered,
    };
    if (engine.failure !== null || outcome.uncovered.length > 0) {
      const what =
        engine.failure !== null
          ? `the pipeline stopped during the emergency stop (${engine.failure})`
          : `no flatten order was produced for ${outcome.uncovered.join(', ')}`;
      return reply.code(500).send({
        error: 'emergency_stop_incomplete',
        message: `${what}: close those positions at the exchange`,
        ...body,
      });
    }
    return { ...body, note: 'halted; every position has a reduce-only market order, filled at the next bar' };
  });

  // the view is rebuilt at most every 250 ms, and only when the engine moved: a busy screen wall
  // or a load test costs one serialisation per refresh, not one per request
  let cached = { version: -1, builtAt: -Infinity, body: '' };
  // after an operator action the next view must show it
  const invalidateView = () => {
    cached = { version: -1, builtAt: -Infinity, body: '' };
  };
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.method === 'POST') invalidateView();
    return payload;
  });
  app.get('/dashboard', async (_request, reply) => {
    const now = performance.now();
    if (engine.version !== cached.version && now - cached.builtAt >= 250) {
      const view = dashboardView(engine, settings, opts.probe, opts.listReports?.() ?? [], opts.clock.now(), desk);
      cached = { version: engine.version, builtAt: now, body: JSON.stringify(view) };
    }
    return reply.header('content-type', 'application/json; charset=utf-8').send(cached.body);
  });

  app.get('/streams/:name', async (request, reply) => {
    const params = StreamParams.safeParse(request.params);
    if (!params.success) return badRequest(reply, 'params', params.error);
    const query = StreamQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, 'query', query.error);
    const entries = await streams.read(params.data.name, query.data.limit);
    return { stream: params.data.name, entries };
  });

  const DecisionBody = z.strictObject({
    symbol: z.enum(settings.SYMBOLS as [string, ...string[]]),
    action: z.enum(['enter-long', 'enter-short', 'exit']),
    confidence: z.number().min(0).max(1),
    reason: z.string().min(1).max(500).default('external decision'),
  });
  app.post('/inference/decisions', { ...limited, preHandler: admin }, async (request, reply) => {
    const body = DecisionBody.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, 'body', body.error);
    if (!engine.started) return reply.code(409).send({ error: 'conflict', message: 'the engine has not started yet' });
    const outcome = await engine.submitDecision(body.data);
    return reply.code(outcome.accepted ? 202 : 200).send({
      accepted: outcome.accepted,
      reason: outcome.reason ?? null,
      stages: outcome.events.map((e) => ({
        kind: e.kind,
        ...(e.kind === 'denied' ? { stage: e.stage, rule: e.rule, detail: e.detail } : {}),
        ...(e.kind === 'order' || e.kind === 'intent'
          ? { client_order_id: e.clientOrderId, side: e.side, quantity: e.quantity }
          : {}),
      })),
    });
  });

  const ChatBody = z.strictObject({
    messages: z
      .array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(16_000) }))
      .min(1)
      .max(50),
    max_tokens: z.number().int().min(1).max(4096).optional(),
    temperature: z.number().min(0).max(2).optional(),
  });
  app.post('/inference/chat', { ...limited, preHandler: admin }, async (request, reply) => {
    const body = ChatBody.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, 'body', body.error);
    if (!opts.chat || opts.chat.endpoint === '') {
      return reply
        .code(503)
        .send({ error: 'not_configured', message: 'no model endpoint is configured (FINGPT_ENDPOINT)' });
    }
    const answer = await proxyChat(opts.chat, body.data);
    return reply.code(answer.status).send(answer.body);
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.text();
  });

  // Event streams are capped (each holds a socket and a file descriptor) and a reader that does
  // not keep up is dropped once its unsent data passes SSE_MAX_BUFFER_BYTES, so neither many
  // tabs nor slow readers can take the descriptors or the heap the operator's requests need.
  const streamsOpen = new Set<{ end(): Promise<void> }>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    await Promise.all([...streamsOpen].map((s) => s.end()));
  });
  app.get('/events', (request, reply) => {
    if (closing) {
      return reply.code(503).send({ error: 'shutting_down', message: 'the service is shutting down' });
    }
    if (streamsOpen.size >= settings.SSE_MAX_CLIENTS) {
      metrics.rateLimitEvents.inc({ kind: 'sse-cap' });
      return reply
        .code(503)
        .header('retry-after', '30')
        .send({
          error: 'too_many_streams',
          message: `SSE_MAX_CLIENTS=${settings.SSE_MAX_CLIENTS} event streams are open: close a dashboard tab or raise SSE_MAX_CLIENTS`,
        });
    }
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let open = true;
    const release = () => {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      unsubscribe();
      streamsOpen.delete(stream);
    };
    const send = (chunk: string) => {
      if (!open) return;
      raw.write(chunk);
      if (raw.writableLength > settings.SSE_MAX_BUFFER_BYTES) {
        request.log.warn(
          `/events reader dropped: ${raw.writableLength} bytes unsent (SSE_MAX_BUFFER_BYTES=${settings.SSE_MAX_BUFFER_BYTES})`,
        );
        metrics.rateLimitEvents.inc({ kind: 'sse-slow-reader' });
        release();
        raw.destroy();
      }
    };
    const stream = {
      // shutdown: end the stream; a reader that cannot take the end is cut after a moment
      end: () =>
        new Promise<void>((resolve) => {
          release();
          if (raw.destroyed || raw.writableFinished) return resolve();
          const cut = setTimeout(() => {
            raw.destroy();
            resolve();
          }, 250);
          raw.end(() => {
            clearTimeout(cut);
            resolve();
          });
          raw.once('close', () => {
            clearTimeout(cut);
            resolve();
          });
        }),
    };
    streamsOpen.add(stream);
    const feed = engineFeed(engine);
    let lastPortfolio = 0;
    const unsubscribe = opts.onEvents((e) => {
      for (const m of sseMessages(e, feed, settings)) {
        if (m.event === 'portfolio') {
          // marks change every bar: one portfolio update per second is plenty for a screen
          const now = performance.now();
          if (now - lastPortfolio < 1000) continue;
          lastPortfolio = now;
        }
        send(formatSse(m.event, m.data as never));
      }
    });
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), 15_000);
    request.raw.on('close', release);
    send(formatSse('status', systemView(engine, opts.probe)));
  });

  if (opts.dashboard) await app.register(opts.dashboard, { reportsDir: opts.reportsDir ?? 'out' });
  return app;
}
