import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { STREAM_NAMES } from '../../telemetry/streams.ts';
import type { AppOptions } from '../app-options.ts';
import { dashboardClock, dashboardState } from '../views.ts';
import { CandleBytes, type DashboardBody } from '../dashboard-body.ts';
import { badRequest } from '../http/errors.ts';
import type { Desk } from '../desk.ts';

const StreamParams = z.strictObject({ name: z.enum(STREAM_NAMES) });
const StreamQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/** Public read-only data: GET /dashboard, /streams/:name, /metrics. */
export const dashboardDataRoutes: FastifyPluginAsync<AppOptions & { views: DashboardBody; desk: Desk }> = async (
  app,
  opts,
) => {
  const { engine, settings, streams, metrics, views } = opts;
  const candles = new CandleBytes();
  app.get('/dashboard', async (_request, reply) => {
    const { desk, probe } = opts;
    // the agents' statuses come from probes, not events: part of the key (a short list)
    const key = `${engine.version}:${desk.revision}:${JSON.stringify(probe.models())}`;
    const body = views.read(
      key,
      () => candles.join(dashboardState(engine, settings, probe, desk, candles.mark)),
      () => dashboardClock(engine, probe, opts.listReports?.() ?? [], opts.clock.now(), desk),
    );
    return reply.header('content-type', 'application/json; charset=utf-8').send(body);
  });

  app.get('/streams/:name', async (request, reply) => {
    const params = StreamParams.safeParse(request.params);
    if (!params.success) return badRequest(reply, 'params', params.error);
    const query = StreamQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, 'query', query.error);
    const entries = await streams.read(params.data.name, query.data.limit);
    return { stream: params.data.name, entries };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.text();
  });
};
