import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../backtests/data/index.ts';
import { parseSettings } from '../../../pipelines/settings.ts';
import { startService, type RunningService } from '../../../live/service/service.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { REPO } from '../../kit/cli.ts';
import { until } from '../../../soak/kit.ts';

/**
 * What the exchange connection cannot settle by itself — here an order whose outcome stays
 * unknown because neither the order nor any lookup of it is answered — reaches the operator:
 * the log, /healthz's last_error (degraded) and /metrics. It was dropped silently before.
 */

const KEY = { apiKey: 'exchange-issues-api-key', secretKey: 'exchange-issues-secret-key' };
const TOKEN = 'exchange-issues-admin-token-5d2c9a7e10';

let sim: ExchangeSimulator | null = null;
let service: RunningService | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
  await sim?.close();
  sim = null;
});

describe('exchange issues reach the operator (live service, simulator)', () => {
  it('an order of unknown outcome is logged, degrades /healthz with its client order id and is counted in /metrics', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT'] });
    sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const lines: string[] = [];
    service = await startService(
      parseSettings({
        TRADING_MODE: 'live',
        ENABLE_PAPER_TRADING: 'false',
        ASTER_REST_URL: sim.restUrl,
        ASTER_WS_URL: sim.wsUrl,
        ASTER_API_KEY: KEY.apiKey,
        ASTER_SECRET_KEY: KEY.secretKey,
        ADMIN_API_TOKEN: TOKEN,
        SYMBOLS: 'BTCUSDT',
        MOMENTUM_THRESHOLD: '50',
        ASTER_ABSENT_LOOKUP_SPACING_MS: '20',
        JOURNAL_PATH: join(mkdtempSync(join(tmpdir(), 'sapphire-issues-')), 'journal.jsonl'),
        LOG_LEVEL: 'silent',
        PORT: 0,
      }),
      { port: 0, logger: false, log: (l) => lines.push(l) },
    );
    const s = service;
    const before = s.engine.lastBarTime;
    sim.advance(1);
    await until('a bar', () => (s.engine.lastBarTime > before ? true : undefined), 20_000, 20);
    // the order and every lookup of it go unanswered (503, not placed)
    for (let i = 0; i < 60; i++) sim.injectFault('unknown-503', { route: '/fapi/v1/order', place: false });
    const r = await s.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: { symbol: 'BTCUSDT', action: 'enter-long', confidence: 0.9, reason: 'exchange issues test' },
    });
    expect(r.statusCode, r.body).toBeLessThan(300);
    const line = await until(
      'the issue in the log',
      () => lines.find((l) => l.includes('exchange execution order-unknown')),
      30_000,
      20,
    );
    expect(line).toMatch(/sapphire-BTCUSDT-\w+: /);
    const health = JSON.parse((await s.app.inject({ method: 'GET', url: '/healthz' })).body) as {
      last_error: string | null;
      degraded: boolean;
    };
    // the entry and its bracket orders: each is an issue, the latest one is shown
    expect(health.last_error).toMatch(/^exchange execution order-unknown: sapphire-BTCUSDT-\w+: no answer/);
    expect(health.degraded).toBe(true);
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/exchange_issues_total\{[^}]*source="execution"[^}]*kind="order-unknown"[^}]*\} [1-9]/);
    // nothing was placed: the unknown order is not re-sent on its own
    expect(sim.state(KEY.apiKey).orders).toHaveLength(0);
  }, 90_000);
});
