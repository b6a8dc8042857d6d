import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Admin authentication: `Authorization: Bearer <token>` or `X-Admin-Token: <token>`.
 * 401 when no token is presented, 403 when it is wrong, 503 when the service has none
 * configured. The compare hashes both sides first so it takes the same time whatever the
 * length or content of the guess. A token in the query string is refused outright: URLs end
 * up in logs and browser history.
 */
export function presentedToken(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!.trim();
  }
  const header = request.headers['x-admin-token'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  return null;
}

export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const QUERY_TOKEN_NAMES = ['token', 'admin_token', 'access_token', 'api_key', 'apikey', 'key'];

export function adminGuard(expected: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    if (QUERY_TOKEN_NAMES.some((n) => n in query)) {
      await reply.code(400).send({ error: 'bad_request', message: 'credentials are not accepted in the query string' });
      return;
    }
    if (expected === '') {
      await reply
        .code(503)
        .send({ error: 'not_configured', message: 'admin routes need ADMIN_API_TOKEN to be set on the service' });
      return;
    }
    const token = presentedToken(request);
    if (token === null) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'admin token required' });
      return;
    }
    if (!tokensEqual(token, expected)) {
      await reply.code(403).send({ error: 'forbidden', message: 'admin token rejected' });
    }
  };
}
