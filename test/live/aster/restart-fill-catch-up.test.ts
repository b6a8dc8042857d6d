import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../backtests/data/index.ts';
import { parseSettings, type Settings } from '../../../pipelines/settings.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { startService, type RunningService } from '../../../live/service/service.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { REPO } from '../../kit/cli.ts';
import { until } from '../../../soak/kit.ts';

/**
 * Issue 14 item 2 / soak scenario 8: a fill that happens at the exchange while the live service
 * is down is found at the next start, before anything is sent, and journaled exactly once — so
 * the rebuilt book equals the exchange's, and a later restart does not count it again.
 */

const KEY = { apiKey: 'restart-catch-up-api-key', secretKey: 'restart-catch-up-secret-key' };
const TOKEN = 'restart-catch-up-admin-token-7c41e09b';

let sim: ExchangeSimulator | null = null;
let service: RunningService | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
  await sim?.close();
  sim = null;
});

/** quantity per client order id over the journal's venue fill events */
function journaledFills(path: string): Map<string, { quantity: number; count: number }> {
  const out = new Map<string, { quantity: number; count: number }>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{"type":"venue"')) continue;
    const e = (JSON.parse(line) as { data: { event: { kind: string; clientOrderId: string; quantity: number } } }).data
      .event;
    if (e.kind !== 'fill') continue;
    const seen = out.get(e.clientOrderId) ?? { quantity: 0, count: 0 };
    out.set(e.clientOrderId, { quantity: seen.quantity + e.quantity, count: seen.count + 1 });
  }
  return out;
}

async function live(journal: string): Promise<RunningService> {
  const settings: Settings = parseSettings({
    TRADING_MODE: 'live',
    ENABLE_PAPER_TRADING: 'false',
    ASTER_REST_URL: sim!.restUrl,
    ASTER_WS_URL: sim!.wsUrl,
    ASTER_API_KEY: KEY.apiKey,
    ASTER_SECRET_KEY: KEY.secretKey,
    ADMIN_API_TOKEN: TOKEN,
    SYMBOLS: 'BTCUSDT',
    // only the test's own decisions trade: a strategy entry on the bar after a restart would move
    // the exchange's position between the catch-up and the check
    MOMENTUM_THRESHOLD: '50',
    JOURNAL_PATH: journal,
    LOG_LEVEL: 'silent',
    PORT: 0,
  });
  return startService(settings, { port: 0, logger: false, log: () => undefined });
}

/** an entry (ours, or the strategy's own on the bar just taken) held by the service and the exchange */
async function holdPosition(s: RunningService): Promise<number> {
  const r = await s.app.inject({
    method: 'POST',
    url: '/inference/decisions',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    payload: { symbol: 'BTCUSDT', action: 'enter-long', confidence: 0.9, reason: 'restart catch-up test' },
  });
  expect(r.statusCode, r.body).toBeLessThan(300);
  const amount = await until(
    'the entry filled at the exchange and taken by the service',
    () => (exchangeAmount() !== 0 && s.engine.fills.length > 0 ? exchangeAmount() : undefined),
    20_000,
    20,
  );
  // the book shows a fill at the next bar's snapshot
  await nextBarSeen(s);
  expect(s.engine.portfolio?.positions.length).toBe(1);
  return amount;
}

async function decide(s: RunningService, action: 'exit'): Promise<void> {
  const r = await s.app.inject({
    method: 'POST',
    url: '/inference/decisions',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    payload: { symbol: 'BTCUSDT', action, confidence: 0.9, reason: 'restart catch-up test' },
  });
  expect(r.statusCode, r.body).toBeLessThan(300);
  expect((JSON.parse(r.body) as { accepted: boolean }).accepted, r.body).toBe(true);
}

const exchangeAmount = () => sim!.state(KEY.apiKey).positions.find((p) => p.symbol === 'BTCUSDT')?.amount ?? 0;

/** one more bar: the book snapshot after the restart's injected fills, and its check against the exchange */
async function nextBarSeen(s: RunningService): Promise<void> {
  const before = s.engine.lastBarTime;
  sim!.advance(1);
  await until('the service to take the next bar', () => (s.engine.lastBarTime > before ? true : undefined), 20_000, 20);
  // the book is compared with the exchange on the snapshot of that bar
  await until('the post-restart check', () => (s.engine.portfolio !== null ? true : undefined), 5_000, 20);
}

async function bookAgrees(s: RunningService): Promise<void> {
  const ours = s.engine.portfolio?.positions.find((p) => p.symbol === 'BTCUSDT')?.quantity ?? 0;
  expect(ours).toBeCloseTo(exchangeAmount(), 9);
}

describe('fills while the live service is down (restart catch-up, simulator)', () => {
  it('a position closed at the exchange while down (an order the journal never knew) is journaled once at the next start', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT'] });
    sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-catch-up-')), 'journal.jsonl');

    service = await live(journal);
    await nextBarSeen(service);
    const held = await holdPosition(service);
    await service.close();
    service = null;

    // while the service is down, the operator closes the position on the exchange
    const operator = new AsterRestClient({ baseUrl: sim.restUrl, credentials: { kind: 'hmac', ...KEY } });
    await operator.syncTime();
    const close = await operator.newOrder({
      symbol: 'BTCUSDT',
      side: held > 0 ? 'SELL' : 'BUY',
      type: 'MARKET',
      quantity: Math.abs(held),
      reduceOnly: true,
      newClientOrderId: 'operator-close-1',
    });
    expect(close.status).toBe('accepted');
    expect(exchangeAmount()).toBe(0);

    service = await live(journal);
    await nextBarSeen(service);
    expect(service.engine.lastError).toBeNull();
    await bookAgrees(service);
    expect(journaledFills(journal).get('operator-close-1')).toEqual({ quantity: Math.abs(held), count: 1 });

    // a further restart finds the fill in the journal and does not take it again
    await service.close();
    service = await live(journal);
    await nextBarSeen(service);
    expect(service.engine.lastError).toBeNull();
    await bookAgrees(service);
    expect(journaledFills(journal).get('operator-close-1')).toEqual({ quantity: Math.abs(held), count: 1 });
  }, 120_000);

  it('our exit filled while down: one fill at the trade price (not a second one from the order lookup)', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT'] });
    sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-catch-up-')), 'journal.jsonl');

    service = await live(journal);
    await nextBarSeen(service);
    await holdPosition(service);
    // the exit reaches the exchange, which fills it only after the service has gone
    sim.injectFault('delayed-fill', { delayMs: 2_500 });
    await decide(service, 'exit');
    const exit = await until(
      'the exit at the exchange',
      () => sim!.state(KEY.apiKey).orders.find((o) => o.reduceOnly && o.clientOrderId.startsWith('sapphire-')),
      10_000,
      10,
    );
    await service.close();
    service = null;
    expect(journaledFills(journal).get(exit.clientOrderId)).toBeUndefined();
    await until('the exit filled while down', () => (exchangeAmount() === 0 ? true : undefined), 10_000, 20);

    service = await live(journal);
    await nextBarSeen(service);
    expect(service.engine.lastError).toBeNull();
    await bookAgrees(service);
    const trade = sim.state(KEY.apiKey).fills.filter((f) => f.orderId === exit.orderId);
    expect(journaledFills(journal).get(exit.clientOrderId)).toEqual({
      quantity: trade.reduce((a, f) => a + f.qty, 0),
      count: trade.length,
    });
  }, 120_000);

  it("a user-stream reconnect soon after a restart does not read the last life's fills back as new ones", async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT'] });
    sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-catch-up-')), 'journal.jsonl');

    service = await live(journal);
    await nextBarSeen(service);
    await holdPosition(service);
    const entry = sim.state(KEY.apiKey).orders.find((o) => !o.reduceOnly && o.clientOrderId.startsWith('sapphire-'))!;
    expect(journaledFills(journal).get(entry.clientOrderId)?.count).toBe(1);
    // restarted within the catch-up's slack of that fill, then the user stream drops: the
    // reconnect's catch-up window reaches back over a trade only the journal knows
    await service.close();
    service = await live(journal);
    await nextBarSeen(service);
    sim.injectFault('drop-user-ws');
    const userSockets = () => sim!.state(KEY.apiKey).userSockets;
    await until('the user stream dropped', () => (userSockets() === 0 ? true : undefined), 5_000, 10);
    await until('the user stream back', () => (userSockets() > 0 ? true : undefined), 20_000, 10);
    // the reconnect's catch-up reads REST and its events go in with the next bars
    await nextBarSeen(service);
    await nextBarSeen(service);
    expect(journaledFills(journal).get(entry.clientOrderId)?.count).toBe(1);
    expect(service.engine.lastError).toBeNull();
    await bookAgrees(service);
  }, 120_000);
});
