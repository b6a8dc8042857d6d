import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app-options.ts';

/** GET /healthz: public, and not ok (503) when nothing trades and stops are not enforced. */
export const healthRoutes: FastifyPluginAsync<AppOptions> = async (app, { engine, settings, probe }) => {
  app.get('/healthz', async (_request, reply) => {
    const redis = probe.redis();
    const agents = probe.agents?.() ?? null;
    const down = engine.failure !== null || engine.closed;
    if (down) reply.code(503);
    return {
      ok: !down,
      reason: down ? engine.unavailable : null,
      running: engine.running,
      mode: probe.mode,
      paper_trading: settings.TRADING_MODE === 'paper',
      last_error: engine.lastError,
      uptime_s: Math.round(engine.uptimeSeconds()),
      redis,
      exchange: probe.exchange(),
      risk_state: engine.riskState,
      last_bar_time: engine.lastBarTime > 0 ? new Date(engine.lastBarTime).toISOString() : null,
      agents,
      degraded: redis === 'down' || engine.lastError !== null || agents?.degraded === true,
    };
  });
};
