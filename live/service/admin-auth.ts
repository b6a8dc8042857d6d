import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Admin authentication for both servers (the service and the orchestrator): one module, one rule.
 *
 * A request presents `Authorization: Bearer <token>` or `X-Admin-Token: <token>`. 400 for a
 * credential in the query string (URLs end up in logs and browser history; the parameter name is
 * matched case-insensitively), 503 when no token is configured, 401 missing, 403 wrong, 429 when
 * the client is locked out.
 *
 * Limits are per client address (the socket's, or the one a configured trusted proxy forwards:
 * Fastify's `trustProxy`): failed attempts use a small bucket of their own, so nobody else's
 * failures can spend an authenticated operator's allowance. A client over its failure limit is
 * refused before its token is checked, so guessing from that address stops entirely.
 */

/** Constant-time comparison: both sides are hashed first, so length differences leak nothing. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents: `Authorization: Bearer …` or `X-Admin-Token`, else null. */
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

const QUERY_TOKEN_NAMES = /^(token|admin_?token|admin_api_token|access_?token|api_?key|key|x-admin-token)$/i;

/** True when the query string carries a parameter named like a credential (any letter case). */
export function tokenInQuery(request: FastifyRequest): boolean {
  const query = request.query;
  if (query === null || typeof query !== 'object') return false;
  return Object.keys(query).some((name) => QUERY_TOKEN_NAMES.test(name));
}

/** Fixed one-minute windows per key, at most `maxKeys` keys (the oldest window is dropped first). */
export class WindowCounter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Adds one to `key`'s window; returns the count in the current window and ms until it resets. */
  hit(key: string, now: number): { count: number; resetInMs: number } {
    const w = this.current(key, now);
    w.count += 1;
    return { count: w.count, resetInMs: w.start + this.windowMs - now };
  }

  /** The count in `key`'s current window without adding to it. */
  peek(key: string, now: number): { count: number; resetInMs: number } {
    const w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs) return { count: 0, resetInMs: 0 };
    return { count: w.count, resetInMs: w.start + this.windowMs - now };
  }

  private current(key: string, now: number): { start: number; count: number } {
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs) {
      this.#windows.delete(key);
      if (this.#windows.size >= this.maxKeys) this.#windows.delete(this.#windows.keys().next().value!);
      w = { start: now, count: 0 };
      this.#windows.set(key, w);
    }
    return w;
  }
}

export interface AdminAuthOptions {
  /** ADMIN_API_TOKEN; empty closes the admin routes (503) */
  readonly token: string;
  /** requests per minute per client address with a valid token (RATE_LIMIT_PER_MINUTE) */
  readonly operatorPerMinute: number;
  /** failed attempts (401/403) per minute per client address before it is locked out (ADMIN_AUTH_FAILURES_PER_MINUTE) */
  readonly failuresPerMinute: number;
  /** told of every 429 (metrics) */
  readonly onLimited?: (kind: 'operator' | 'failures') => void;
  /** the error body's shape: the service sends `{ error, message }`, the orchestrator `{ error }` */
  readonly body?: (error: string, message: string) => Record<string, unknown>;
}

const serviceBody = (error: string, message: string) => ({ error, message });

/** A hook enforcing the rules above; `operators` and `failures` are the per-address windows. */
export function adminGuard(opts: AdminAuthOptions) {
  const operators = new WindowCounter(60_000);
  const failures = new WindowCounter(60_000);
  const body = opts.body ?? serviceBody;
  const limited = (reply: FastifyReply, kind: 'operator' | 'failures', resetInMs: number, max: number) => {
    opts.onLimited?.(kind);
    const what = kind === 'operator' ? 'requests' : 'failed admin logins';
    return reply
      .code(429)
      .header('retry-after', String(Math.max(1, Math.ceil(resetInMs / 1000))))
      .send({
        statusCode: 429,
        ...body(
          'rate_limited',
          `more than ${max} ${what} per minute from this address; retry in ${Math.ceil(resetInMs / 1000)} s`,
        ),
      });
  };
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (tokenInQuery(request)) {
      await reply.code(400).send(body('bad_request', 'credentials are not accepted in the query string'));
      return;
    }
    if (opts.token === '') {
      await reply.code(503).send(body('not_configured', 'admin routes need ADMIN_API_TOKEN to be set'));
      return;
    }
    const now = performance.now();
    const client = request.ip;
    const lockout = failures.peek(client, now);
    if (lockout.count >= opts.failuresPerMinute) {
      await limited(reply, 'failures', lockout.resetInMs, opts.failuresPerMinute);
      return;
    }
    const token = presentedToken(request);
    if (token !== null && tokensEqual(token, opts.token)) {
      const used = operators.hit(client, now);
      if (used.count > opts.operatorPerMinute) await limited(reply, 'operator', used.resetInMs, opts.operatorPerMinute);
      return;
    }
    failures.hit(client, now);
    if (token === null) {
      await reply.code(401).header('www-authenticate', 'Bearer').send(body('unauthorized', 'admin token required'));
      return;
    }
    await reply.code(403).send(body('forbidden', 'admin token rejected'));
  };
}

/**
 * The guard as a plugin: every route registered in the same scope (after it) is an admin route.
 * It is not encapsulated (skip-override, what fastify-plugin sets), so its hook applies to the
 * scope that registers it:
 *
 *     await app.register(async (admin) => {
 *       await admin.register(adminAuth, options);
 *       await admin.register(controlRoutes, deps);
 *     });
 */
export const adminAuth: FastifyPluginAsync<AdminAuthOptions> = async (scope, opts) => {
  // onRequest: a refused request is answered before its body is read
  scope.addHook('onRequest', adminGuard(opts));
};
(adminAuth as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
