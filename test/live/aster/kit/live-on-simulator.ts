import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadDataset } from '../../../../backtests/data/index.ts';
import { parseSettings, type Settings } from '../../../../pipelines/settings.ts';
import { startService, type RunningService } from '../../../../live/service/service.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../../simulator/start-simulator.ts';
import { REPO } from '../../../kit/cli.ts';
import { until } from '../../../../soak/kit.ts';

/**
 * A live-mode service (real REST orders, user-data fills) against the exchange simulator on
 * loopback, trading BTCUSDT from the shipped sample, with the steps restart tests take: hold a
 * position, decide, let one bar through, compare the book with the exchange.
 */

export const KEY = { apiKey: 'live-on-simulator-api-key', secretKey: 'live-on-simulator-secret-key' };
export const TOKEN = 'live-on-simulator-admin-token-7c41e09b';
const SYMBOL = 'BTCUSDT';

export class LiveOnSimulator {
  service: RunningService | null = null;
  /** every line the services logged */
  readonly logs: string[] = [];
  readonly journal = join(mkdtempSync(join(tmpdir(), 'sapphire-live-sim-')), 'journal.jsonl');

  private constructor(readonly sim: ExchangeSimulator) {}

  static async start(): Promise<LiveOnSimulator> {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: [SYMBOL] });
    const sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    return new LiveOnSimulator(sim);
  }

  async close(): Promise<void> {
    await this.stopService();
    await this.sim.close();
  }

  async stopService(): Promise<void> {
    await this.service?.close();
    this.service = null;
  }

  /** a live service on the journal (settings on top of the defaults below) */
  async live(extra: Record<string, string> = {}): Promise<RunningService> {
    const settings: Settings = parseSettings({
      TRADING_MODE: 'live',
      ENABLE_PAPER_TRADING: 'false',
      ASTER_REST_URL: this.sim.restUrl,
      ASTER_WS_URL: this.sim.wsUrl,
      ASTER_API_KEY: KEY.apiKey,
      ASTER_SECRET_KEY: KEY.secretKey,
      ADMIN_API_TOKEN: TOKEN,
      SYMBOLS: SYMBOL,
      // only the test's own decisions trade: a strategy entry on the bar after a restart would move
      // the exchange's position between the catch-up and the check
      MOMENTUM_THRESHOLD: '50',
      JOURNAL_PATH: this.journal,
      LOG_LEVEL: 'silent',
      PORT: 0,
      ...extra,
    });
    this.service = await startService(settings, { port: 0, logger: false, log: (line) => this.logs.push(line) });
    return this.service;
  }

  get running(): RunningService {
    if (this.service === null) throw new Error('no service is running');
    return this.service;
  }

  /** the exchange's signed position */
  exchangeAmount(): number {
    return this.sim.state(KEY.apiKey).positions.find((p) => p.symbol === SYMBOL)?.amount ?? 0;
  }

  /** the exchange's working orders of the symbol */
  workingOrders() {
    return this.sim.state(KEY.apiKey).openOrders.filter((o) => o.symbol === SYMBOL);
  }

  async decide(action: 'enter-long' | 'enter-short' | 'exit'): Promise<void> {
    const r = await this.running.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: { symbol: SYMBOL, action, confidence: 0.9, reason: 'live-on-simulator test' },
    });
    expect(r.statusCode, r.body).toBeLessThan(300);
    expect((JSON.parse(r.body) as { accepted: boolean }).accepted, r.body).toBe(true);
  }

  /** an entry held by the service and the exchange; returns the exchange's signed amount */
  async holdPosition(): Promise<number> {
    const s = this.running;
    await this.decide('enter-long');
    const amount = await until(
      'the entry filled at the exchange and taken by the service',
      () => (this.exchangeAmount() !== 0 && s.engine.fills.length > 0 ? this.exchangeAmount() : undefined),
      20_000,
      20,
    );
    // the book shows a fill at the next bar's snapshot
    await this.nextBarSeen();
    expect(s.engine.portfolio?.positions.length).toBe(1);
    return amount;
  }

  /** one more bar, taken by the service (the book snapshot of that bar is compared with the exchange) */
  async nextBarSeen(): Promise<void> {
    const s = this.running;
    const before = s.engine.lastBarTime;
    this.sim.advance(1);
    await until(
      'the service to take the next bar',
      () => (s.engine.lastBarTime > before ? true : undefined),
      20_000,
      20,
    );
    await until('the post-restart check', () => (s.engine.portfolio !== null ? true : undefined), 5_000, 20);
  }

  /** the service's signed position of the symbol */
  ours(): number {
    return this.running.engine.portfolio?.positions.find((p) => p.symbol === SYMBOL)?.quantity ?? 0;
  }

  bookAgrees(): void {
    expect(this.ours()).toBeCloseTo(this.exchangeAmount(), 9);
  }

  /** quantity and count per client order id over the journal's venue fill events */
  journaledFills(): Map<string, { quantity: number; count: number }> {
    const out = new Map<string, { quantity: number; count: number }>();
    for (const line of readFileSync(this.journal, 'utf8').split('\n')) {
      if (!line.startsWith('{"type":"venue"')) continue;
      const e = (JSON.parse(line) as { data: { event: { kind: string; clientOrderId: string; quantity: number } } })
        .data.event;
      if (e.kind !== 'fill') continue;
      const seen = out.get(e.clientOrderId) ?? { quantity: 0, count: 0 };
      out.set(e.clientOrderId, { quantity: seen.quantity + e.quantity, count: seen.count + 1 });
    }
    return out;
  }
}
