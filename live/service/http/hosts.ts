import { isIP } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/**
 * The Host names a server answers: ALLOWED_HOSTS when set; else the localhost names when it is
 * bound to a loopback address (a page on another site that rebinds its DNS name to 127.0.0.1
 * still sends its own name as Host); else null, meaning any host (a container behind a proxy).
 */
export function allowedHosts(configured: readonly string[], bindAddress: string): readonly string[] | null {
  if (configured.length > 0) return configured.map((h) => h.toLowerCase());
  return isLoopback(bindAddress) ? LOOPBACK_NAMES : null;
}

/** `host:port`, `[v6]:port`, `v6`, `name` → the name alone, lower-cased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  if (isIP(h) === 6) return h;
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/**
 * Refuses (421 Misdirected Request) a request whose Host header is not on the list, before any
 * route runs. Not encapsulated: it guards every route of the server that registers it.
 */
export const hostCheck: FastifyPluginAsync<{ allowed: readonly string[] | null }> = async (app, { allowed }) => {
  if (allowed === null) return;
  const names = new Set(allowed.map((h) => hostName(h)));
  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host ?? '';
    if (names.has(hostName(host))) return;
    await reply.code(421).send({
      error: 'misdirected',
      message: `Host ${JSON.stringify(host.slice(0, 100))} is not served here (ALLOWED_HOSTS)`,
    });
  });
};
(hostCheck as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
