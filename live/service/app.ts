import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { adminAuth } from './admin-auth.ts';
import { errorAnswers } from './http/errors.ts';
import { origins } from './http/origins.ts';
import { healthRoutes } from './routes/health.ts';
import { controlRoutes } from './routes/control.ts';
import { inferenceRoutes } from './routes/inference.ts';
import { dashboardDataRoutes } from './routes/dashboard-data.ts';
import { DashboardBody } from './dashboard-body.ts';
import { eventRoutes } from './routes/events.ts';
import { redactQueryValues } from '../../secrets/redact.ts';
import { Desk } from './desk.ts';
import type { AppOptions } from './app-options.ts';
import { deskAdminRoutes, registerDeskRoutes } from './routes/desk.ts';

/** Fastify's logger for the service: never credentials, never query values. */
function loggerOf(opts: AppOptions) {
  if (!opts.logger) return false;
  return {
    level: opts.settings.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers["x-admin-token"]'],
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({
        method: req.method,
        url: redactQueryValues(req.url),
        remoteAddress: req.ip,
      }),
    },
  };
}

/**
 * The admin API and dashboard server (SPEC §5), returned without listening, so tests drive it
 * with `inject()` and the service with `listen()`. Built from plugins: who may talk to it
 * (Host allow-list, CORS), error answers, then the route groups. Routes registered inside the
 * admin scope need the admin token; a new admin route group is one more `admin.register` line.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { settings, metrics } = opts;
  const app = Fastify({
    logger: loggerOf(opts),
    // request lines go out at debug level (routes/desk.ts): the console shows trading, not traffic
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    // the client address comes from X-Forwarded-For only when the socket peer is a trusted proxy
    trustProxy: settings.TRUSTED_PROXIES.length > 0 ? [...settings.TRUSTED_PROXIES] : false,
  });
  await app.register(origins, {
    corsOrigins: settings.CORS_ORIGINS,
    allowedHosts: settings.ALLOWED_HOSTS,
    bindAddress: settings.HOST,
  });
  await app.register(errorAnswers);

  // GET /dashboard's body, rebuilt when the engine, the audit trail or the agents' statuses move
  const views = new DashboardBody();

  // the desk: locks, arms, working orders and the operator audit trail the dashboard shows
  const desk = new Desk(opts.engine, settings, opts.clock.now());
  opts.onEvents((e) => desk.observe(e));
  registerDeskRoutes(app, { engine: opts.engine, settings, desk, clock: opts.clock });

  await app.register(healthRoutes, opts);
  await app.register(dashboardDataRoutes, { ...opts, views, desk });
  await app.register(eventRoutes, opts);
  await app.register(async (admin) => {
    await admin.register(adminAuth, {
      token: settings.ADMIN_API_TOKEN,
      operatorPerMinute: settings.RATE_LIMIT_PER_MINUTE,
      failuresPerMinute: settings.ADMIN_AUTH_FAILURES_PER_MINUTE,
      onLimited: () => metrics.rateLimitEvents.inc({ kind: 'api-429' }),
    });
    await admin.register(controlRoutes, opts);
    await admin.register(inferenceRoutes, opts);
    await admin.register(deskAdminRoutes, { engine: opts.engine, settings, desk });
  });

  if (opts.dashboard) await app.register(opts.dashboard, { reportsDir: opts.reportsDir ?? 'out' });
  return app;
}
