import type { FastifyPluginAsync } from 'fastify';
import { formatSse } from '../dashboard-view.ts';
import type { AppOptions } from '../app-options.ts';
import { engineFeed, sseMessages, systemView } from '../views.ts';

/** GET /events: the live event stream (SSE) the dashboard listens to. */
export const eventRoutes: FastifyPluginAsync<AppOptions> = async (app, opts) => {
  const { engine, settings, metrics, probe, onEvents } = opts;
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
    const unsubscribe = onEvents((e) => {
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
    send(formatSse('status', systemView(engine, probe)));
  });
};
