import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { STREAM_NAMES } from '../../telemetry/streams.ts';
import type { AppOptions } from '../app-options.ts';
import { dashboardView } from '../views.ts';
import { badRequest } from '../http/errors.ts';
import type { Desk } from '../desk.ts';

const StreamParams = z.strictObject({ name: z.enum(STREAM_NAMES) });
const StreamQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/**
 * The dashboard view rebuilt at most every 250 ms, and only when the engine moved: a busy screen
 * wall or a load test costs one serialisation per refresh, not one per request. `invalidate`
 * (after an operator action) makes the next read show it.
 */
export class ViewCache {
  #cached = { version: -1, builtAt: -Infinity, body: '' };
  invalidate(): void {
    this.#cached = { version: -1, builtAt: -Infinity, body: '' };
  }
  read(version: number, build: () => unknown): string {
    const now = performance.now();
    if (version !== this.#cached.version && now - this.#cached.builtAt >= 250) {
      this.#cached = { version, builtAt: now, body: JSON.stringify(build()) };
    }
    return this.#cached.body;
  }
}

/** Public read-only data: GET /dashboard, /streams/:name, /metrics. */
export const dashboardDataRoutes: FastifyPluginAsync<AppOptions & { views: ViewCache; desk: Desk }> = async (
  app,
  opts,
) => {
  const { engine, settings, streams, metrics, views } = opts;
  app.get('/dashboard', async (_request, reply) => {
    const body = views.read(engine.version, () =>
      dashboardView(engine, settings, opts.probe, opts.listReports?.() ?? [], opts.clock.now(), opts.desk),
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
