import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AsterRestClient } from '../../../../live/aster/rest-client.ts';
import { AsterWalletVenue } from '../../../../live/orchestrator/aster-wallet-venue.ts';
import { buildOrchestratorApp } from '../../../../live/orchestrator/orchestrator-app.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../../../pipelines/settings.ts';
import { fixtureColumns } from '../../../kit/fixture-bars.ts';
import { startAsterPeer, type AsterPeer } from './aster-peer.ts';

export const TOKEN = 'orch-test-admin-token-7f3a9c-5e0b2d41';

/** Real closes from the committed fixtures. */
export function realCloses(symbol: 'BTCUSDT' | 'ETHUSDT'): { last: number; max: number; min: number } {
  const c = fixtureColumns(symbol);
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < c.length; i++) {
    max = Math.max(max, c.close[i]!);
    min = Math.min(min, c.close[i]!);
  }
  return { last: c.close[c.length - 1]!, max, min };
}

export interface Rig {
  peer: AsterPeer;
  app: FastifyInstance;
  journalPath: string;
  clock: { t: number; now(): number };
  /** a new app over the same peer and journal (a restart) */
  restart(overrides?: Record<string, unknown>): Promise<FastifyInstance>;
  orderCalls(): number;
  close(): Promise<void>;
}

export async function startRig(overrides: Record<string, unknown> = {}, wallet = 10_000): Promise<Rig> {
  const peer = await startAsterPeer({
    marks: { BTCUSDT: realCloses('BTCUSDT').last, ETHUSDT: realCloses('ETHUSDT').last },
    wallet,
  });
  const dir = mkdtempSync(join(tmpdir(), 'orch-'));
  const journalPath = join(dir, 'routed.jsonl');
  const clock = {
    t: Date.parse('2025-02-01T00:00:00Z'),
    now() {
      return this.t;
    },
  };
  const build = (o: Record<string, unknown>) => {
    const client = new AsterRestClient({
      baseUrl: peer.url,
      credentials: { kind: 'hmac', apiKey: peer.apiKey, secretKey: peer.secretKey },
      timeoutMs: 5_000,
      sleep: async () => {},
      unknownOrderQueries: 1,
    });
    return buildOrchestratorApp({
      settings: withOverrides(DEFAULT_SETTINGS, { ADMIN_API_TOKEN: TOKEN, ...o }),
      venue: new AsterWalletVenue(client),
      clock,
      journalPath,
    });
  };
  const rig: Rig = {
    peer,
    app: build(overrides),
    journalPath,
    clock,
    async restart(o = overrides) {
      await rig.app.close();
      rig.app = build(o);
      return rig.app;
    },
    orderCalls: () => peer.calls.filter((c) => c.method === 'POST' && c.path === '/fapi/v1/order').length,
    async close() {
      await rig.app.close();
      await peer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

export const auth = { authorization: `Bearer ${TOKEN}` };

export function order(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    symbol: 'BTCUSDT',
    side: 'BUY',
    quantity: 0.01,
    type: 'MARKET',
    clientOrderId: 'bot1-BTCUSDT-1',
    reduceOnly: false,
    ...over,
  };
}
