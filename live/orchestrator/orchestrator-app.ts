import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ClockPort } from '../../pipelines/ports.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { adminAuth } from '../service/admin-auth.ts';
import { allowedHosts, hostCheck } from '../service/http/hosts.ts';
import type { WalletLimits } from './guardrails.ts';
import { BadRequest } from './orchestrator-schemas.ts';
import { OrchestratorState } from './orchestrator-state.ts';
import type { WalletVenue } from './wallet-venue.ts';
import { orderRoutes } from './routes/orders.ts';
import { controlRoutes } from './routes/control.ts';
import { portfolioRoutes, WalletReads } from './routes/portfolio.ts';

export {
  OrderRequestSchema,
  CancelRequestSchema,
  DecisionRecordSchema,
  type OrderRequest,
  type CancelRequest,
  type DecisionRecord,
} from './orchestrator-schemas.ts';

export type OrchestratorSettings = WalletLimits & {
  readonly ADMIN_API_TOKEN: string;
  readonly RATE_LIMIT_PER_MINUTE: number;
  readonly ADMIN_AUTH_FAILURES_PER_MINUTE: number;
  readonly TRUSTED_PROXIES: readonly string[];
  readonly ALLOWED_HOSTS: readonly string[];
  readonly HOST: string;
  readonly PORTFOLIO_CACHE_MS: number;
};

export interface OrchestratorOptions {
  readonly settings: OrchestratorSettings;
  readonly venue: WalletVenue;
  readonly clock: ClockPort;
  /** append-only JSONL of routed ids, decisions and halts; omitted = memory only */
  readonly journalPath?: string;
  /** Fastify logger (off by default). Request lines carry method, path (never the query string) and IP only */
  readonly logger?: boolean;
  /** where log lines go when `logger` is on (default stdout) */
  readonly logStream?: { write(line: string): void };
  /** how many registered decisions GET /portfolio keeps (default 200) */
  readonly keepDecisions?: number;
}

function loggerOf(opts: OrchestratorOptions) {
  if (opts.logger !== true) return false;
  return {
    level: 'info',
    ...(opts.logStream !== undefined ? { stream: opts.logStream } : {}),
    serializers: {
      req: (r: { method?: string; url?: string; ip?: string }) => ({
        method: r.method,
        path: (r.url ?? '').split('?')[0],
        ip: r.ip,
      }),
    },
  };
}

async function errorAnswer(err: unknown, reply: FastifyReply) {
  if (err instanceof BadRequest) return reply.code(400).send({ error: 'bad request', issues: err.issues });
  if (isSapphireError(err)) return reply.code(err.status).send({ error: err.code });
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const text = status === 413 ? 'body too large' : status === 415 ? 'unsupported media type' : 'bad request';
    return reply.code(status).send({ error: text });
  }
  return reply.code(500).send({ error: 'internal error' });
}

/**
 * The multi-bot orchestrator: one wallet, several bots. Every order passes wallet-level
 * guardrails and is routed at most once per client order id (the id is fsync'd to the journal
 * before the venue sees it, so restarts keep the promise). Emergency stop cancels every open
 * order, flattens every position with reduce-only MARKET orders and halts all bots. Every route
 * but /healthz needs the admin token (the same admin-auth module as the service's).
 */
export function buildOrchestratorApp(opts: OrchestratorOptions): FastifyInstance {
  const { settings, venue, clock } = opts;
  const app = Fastify({
    logger: loggerOf(opts),
    bodyLimit: 64 * 1024,
    trustProxy: settings.TRUSTED_PROXIES.length > 0 ? [...settings.TRUSTED_PROXIES] : false,
  });
  const state = new OrchestratorState(clock, opts.journalPath, opts.keepDecisions ?? 200);
  const wallet = new WalletReads(venue, clock, settings.PORTFOLIO_CACHE_MS);
  const startedAt = clock.now();
  app.addHook('onClose', async () => state.close());
  void app.register(hostCheck, { allowed: allowedHosts(settings.ALLOWED_HOSTS, settings.HOST) });
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler(async (err: unknown, _req, reply: FastifyReply) => errorAnswer(err, reply));
  // an order or a stop changed the wallet: the next /portfolio reads it again
  app.addHook('onResponse', async (req) => {
    if (req.method === 'POST') wallet.invalidate();
  });

  app.get('/healthz', async () => ({
    ok: true,
    halted: state.halt !== undefined,
    halt_reason: state.halt ?? null,
    routed_orders: state.routed.size,
    uptime_s: Math.max(0, Math.round((clock.now() - startedAt) / 1000)),
  }));
  // plugins load at ready()/listen()/inject(): the app is returned before, as Fastify allows
  void app.register(async (admin) => {
    await admin.register(adminAuth, {
      token: settings.ADMIN_API_TOKEN,
      operatorPerMinute: settings.RATE_LIMIT_PER_MINUTE,
      failuresPerMinute: settings.ADMIN_AUTH_FAILURES_PER_MINUTE,
      body: (_error, message) => ({ error: message }),
    });
    await admin.register(orderRoutes, { state, venue, clock, limits: settings });
    await admin.register(controlRoutes, { state, venue, clock });
    await admin.register(portfolioRoutes, { state, wallet, clock });
  });
  return app;
}
