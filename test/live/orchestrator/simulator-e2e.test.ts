import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterWalletVenue } from '../../../live/orchestrator/aster-wallet-venue.ts';
import { buildOrchestratorApp } from '../../../live/orchestrator/orchestrator-app.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../../pipelines/settings.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import { TOKEN } from './kit/orchestrator-kit.ts';

const KEY = 'orch-e2e-key';
const SECRET = 'orch-e2e-secret-not-real';

let sim: ExchangeSimulator | undefined;
let dir: string | undefined;
afterEach(async () => {
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  sim = undefined;
  dir = undefined;
});

describe('orchestrator against the exchange simulator (real Aster REST over sockets)', () => {
  it('routes two bots, refuses a duplicate, then emergency stop cancels and flattens everything on the exchange', async () => {
    sim = await startExchangeSimulator({
      series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
      replayMs: 0,
      startIndex: 300,
      initialBalance: 10_000,
      credentials: [{ apiKey: KEY, secretKey: SECRET }],
    });
    dir = mkdtempSync(join(tmpdir(), 'orch-sim-'));
    const client = new AsterRestClient({
      baseUrl: sim.restUrl,
      credentials: { kind: 'hmac', apiKey: KEY, secretKey: SECRET },
      timeoutMs: 5_000,
    });
    const app = buildOrchestratorApp({
      settings: withOverrides(DEFAULT_SETTINGS, { ADMIN_API_TOKEN: TOKEN }),
      venue: new AsterWalletVenue(client),
      clock: { now: () => Date.now() },
      journalPath: join(dir, 'j.jsonl'),
    });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const send = (bot: string, body: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: `/order/${bot}`, headers, payload: { reduceOnly: false, ...body } });

    const a = await send('alpha', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
      clientOrderId: 'alpha-1',
    });
    expect(a.json()).toMatchObject({ status: 'routed' });
    const b = await send('beta', {
      symbol: 'ETHUSDT',
      side: 'SELL',
      type: 'MARKET',
      quantity: 0.3,
      clientOrderId: 'beta-1',
    });
    expect(b.json()).toMatchObject({ status: 'routed' });
    expect(
      (
        await send('beta', { symbol: 'ETHUSDT', side: 'SELL', type: 'MARKET', quantity: 0.3, clientOrderId: 'beta-1' })
      ).json(),
    ).toMatchObject({ status: 'duplicate' });

    // a protective stop well below the market (from the real replayed price)
    const pf = (await app.inject({ method: 'GET', url: '/portfolio', headers })).json();
    const btc = (pf.positions as { symbol: string; markPrice: number; positionAmt: number }[]).find(
      (p) => p.symbol === 'BTCUSDT',
    )!;
    expect(btc.positionAmt).toBeCloseTo(0.01, 12);
    const stopPrice = Math.round(btc.markPrice * 0.9 * 10) / 10;
    const s = await send('alpha', {
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: 0,
      closePosition: true,
      stopPrice,
      clientOrderId: 'alpha-1-stop',
    });
    expect(s.json()).toMatchObject({ status: 'routed' });
    expect(sim.state(KEY).openOrders).toHaveLength(1);
    expect(sim.state(KEY).positions.filter((p) => p.amount !== 0)).toHaveLength(2);

    const stop = await app.inject({ method: 'POST', url: '/emergency_stop', headers });
    expect(stop.statusCode).toBe(200);
    expect(stop.json()).toMatchObject({ status: 'halted', complete: true, cancelled: ['BTCUSDT'] });
    const after = sim.state(KEY);
    expect(after.openOrders).toHaveLength(0);
    expect(after.positions.filter((p) => p.amount !== 0)).toHaveLength(0);
    const flatteners = after.orders.filter((o) => o.clientOrderId.startsWith('estop-'));
    expect(flatteners).toHaveLength(2);
    for (const o of flatteners) expect(o).toMatchObject({ type: 'MARKET', reduceOnly: true });

    const refused = await send('alpha', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.01,
      clientOrderId: 'alpha-2',
    });
    expect(refused.statusCode).toBe(423);
    await app.close();
  });
});
