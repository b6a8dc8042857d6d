import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { isSapphireError } from '../../../pipelines/errors.ts';

/** A request failed validation: 400 naming the route part and field. */
export function badRequest(reply: FastifyReply, where: string, error: z.ZodError): FastifyReply {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? `${where}.${issue.path.join('.')}` : where;
  return reply.code(400).send({ error: 'bad_request', message: `${field}: ${issue.message}` });
}

/**
 * Error and not-found answers for the whole server (not encapsulated): coded errors keep their
 * status, Fastify's own 4xx keep a short message, anything else is a bare 500 that says nothing
 * about internals.
 */
export const errorAnswers: FastifyPluginAsync = async (app) => {
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error.statusCode === 429) return reply.code(429).send(error);
    if (isSapphireError(error)) {
      return reply.code(error.status).send({ error: error.code.toLowerCase(), message: error.message });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: { message: error.message, code: error.code } }, 'request failed');
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
};
(errorAnswers as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
