import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const QUERY_TOKEN_NAMES = /^(token|admin_?token|admin_api_token|api_?key|access_token|x-admin-token)$/i;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed first, so length differences leak nothing. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token a request presents: `Authorization: Bearer …` or `X-Admin-Token`, else undefined. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!.trim();
  }
  const x = req.headers['x-admin-token'];
  if (typeof x === 'string' && x !== '') return x;
  return undefined;
}

/** True when the query string carries something that looks like a credential. */
export function tokenInQuery(req: FastifyRequest): boolean {
  const q = req.query;
  if (q === null || typeof q !== 'object') return false;
  return Object.keys(q).some((k) => QUERY_TOKEN_NAMES.test(k));
}

/**
 * A preHandler for admin routes: 503 when no token is configured (admin routes are then closed),
 * 400 for a token in the query string (it would land in access logs), 401 missing, 403 wrong.
 */
export function adminGuard(expected: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (tokenInQuery(req)) {
      await reply.code(400).send({ error: 'credentials are not accepted in the query string' });
      return;
    }
    if (expected === '') {
      await reply.code(503).send({ error: 'admin routes are disabled: ADMIN_API_TOKEN is not set' });
      return;
    }
    const given = presentedToken(req);
    if (given === undefined) {
      await reply.code(401).send({ error: 'admin token required' });
      return;
    }
    if (!tokenMatches(given, expected)) {
      await reply.code(403).send({ error: 'admin token rejected' });
      return;
    }
  };
}
