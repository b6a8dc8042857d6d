import type { FastifyPluginAsync } from 'fastify';
import cors from '@fastify/cors';
import { allowedHosts, hostCheck } from './hosts.ts';

export interface OriginOptions {
  /** CORS_ORIGINS: cross-origin pages allowed to call the API */
  readonly corsOrigins: readonly string[];
  /** ALLOWED_HOSTS and the bind address (HOST) they default from */
  readonly allowedHosts: readonly string[];
  readonly bindAddress: string;
}

/** Who may talk to the server: the Host allow-list (DNS rebinding) and CORS. Not encapsulated. */
export const origins: FastifyPluginAsync<OriginOptions> = async (app, opts) => {
  await app.register(hostCheck, { allowed: allowedHosts(opts.allowedHosts, opts.bindAddress) });
  await app.register(cors, {
    origin: (origin, cb) => {
      // same-origin requests carry no Origin header; everything else must be on the list
      if (!origin) return cb(null, true);
      cb(null, opts.corsOrigins.includes(origin));
    },
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['authorization', 'x-admin-token', 'content-type'],
  });
};
(origins as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
