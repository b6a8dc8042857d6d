import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEVER } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../backtests/data/index.ts';
import type { SymbolFilters } from '../../../pipelines/model/index.ts';
import type { ExecutionPort } from '../../../pipelines/ports.ts';
import { filtersFor } from '../../../pipelines/instruments.ts';
import { parseSettings, type Settings } from '../../../pipelines/settings.ts';
import { TradingEngine } from '../../../live/engine/trading-engine.ts';
import type { VenuePort } from '../../../live/engine/venue-reconciler.ts';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { startService, type RunningService } from '../../../live/service/service.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { REPO } from '../../kit/cli.ts';
import { until } from '../../../soak/kit.ts';

/**
 * Issue 14 item 10: a live restart from the journal's last snapshot rebuilds what a replay of the
 * whole journal rebuilds, wherever the process died. A live run against the exchange simulator
 * writes a journal (snapshots every 10 inputs); the journal cut after each of many lines is
 * restarted twice — from its last snapshot, and with the snapshots removed (full replay) — and
 * both must hand the exchange the same orders to ask about, hold the same fills, and show the
 * same book before anything is sent.
 */

const KEY = { apiKey: 'kill-points-api-key', secretKey: 'kill-points-secret-key' };
const TOKEN = 'kill-points-admin-token-3b9d51c7e2a84f06';
const BARS = 110;

let sim: ExchangeSimulator | null = null;
let service: RunningService | null = null;
afterAll(async () => {
  await service?.close();
  await sim?.close();
});

/** What a restart knows before it sends anything. */
interface Restarted {
  open: string[];
  filled: [string, number][];
  lastFillTime: number;
  positions: string[];
  balance: number | undefined;
  rejectedUnsent: string[];
  halted: boolean;
  replayed: number;
}

/** counts what reaches the exchange: a restart sends nothing before (or while) it reconciles */
const sent: string[] = [];
const noExecution: ExecutionPort = {
  attach: (orders) => {
    orders.subscribe((o) => sent.push(o.clientOrderId));
    return (bars) => bars;
  },
};

async function restart(
  path: string,
  settings: Settings,
  filters: ReadonlyMap<string, SymbolFilters>,
): Promise<Restarted> {
  let asked: Pick<Restarted, 'open' | 'filled' | 'lastFillTime'> | null = null;
  const venue: VenuePort = {
    reconcile: async (open, journaled) => {
      asked = {
        open: open.map((o) => `${o.order.clientOrderId}:${o.filled}`).sort(),
        filled: [...journaled.filled].sort(([a], [b]) => a.localeCompare(b)),
        lastFillTime: journaled.lastFillTime,
      };
      return [];
    },
    verify: async () => null,
    adoptWorking: () => undefined,
    holdings: async () => ({ positions: [], orders: [] }),
    cancel: async () => undefined,
  };
  const journal = new FileJournal(path);
  const rejected: string[] = [];
  const engine = new TradingEngine({
    settings,
    filters,
    market: NEVER,
    execution: noExecution,
    journal,
    clock: { now: () => 0 },
    venue,
    sinks: [(e) => void (e.kind === 'order-rejected' && rejected.push(e.clientOrderId))],
  });
  await engine.start();
  await engine.shutdown();
  journal.close();
  const p = engine.portfolio;
  if (asked === null) throw new Error(`${path}: the restart did not ask the exchange`);
  return {
    ...(asked as Pick<Restarted, 'open' | 'filled' | 'lastFillTime'>),
    positions: (p?.positions ?? []).map((x) => `${x.symbol} ${x.quantity} @ ${x.entryPrice}`).sort(),
    balance: p?.balance,
    rejectedUnsent: rejected.sort(),
    halted: engine.operatorHalted,
    replayed: engine.counts.replayed,
  };
}

/** has every quantity the exchange filled for our account come back to the journal (by client order id)? */
function fillsJournaled(journalPath: string, exchange: ExchangeSimulator): boolean {
  const journaled = new Map<string, number>();
  for (const line of readFileSync(journalPath, 'utf8').trimEnd().split('\n')) {
    const entry = JSON.parse(line) as {
      type: string;
      data?: { event?: { kind: string; clientOrderId: string; quantity: number } };
    };
    const e = entry.type === 'venue' ? entry.data?.event : undefined;
    if (e?.kind === 'fill') journaled.set(e.clientOrderId, (journaled.get(e.clientOrderId) ?? 0) + e.quantity);
  }
  return exchange
    .state(KEY.apiKey)
    .orders.every((o) => Math.abs((journaled.get(o.clientOrderId) ?? 0) - o.executedQty) < 1e-9);
}

describe('live restart at many kill points: from the last snapshot = full replay (simulator)', () => {
  it('every cut of a live journal restarts to the same open orders, fills and book either way', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT', 'ETHUSDT'] });
    sim = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-kill-points-'));
    const journalPath = join(dir, 'journal.jsonl');
    const settings: Settings = parseSettings({
      TRADING_MODE: 'live',
      ENABLE_PAPER_TRADING: 'false',
      ASTER_REST_URL: sim.restUrl,
      ASTER_WS_URL: sim.wsUrl,
      ASTER_API_KEY: KEY.apiKey,
      ASTER_SECRET_KEY: KEY.secretKey,
      ADMIN_API_TOKEN: TOKEN,
      SYMBOLS: 'BTCUSDT,ETHUSDT',
      MOMENTUM_LOOKBACK_BARS: '48',
      MOMENTUM_THRESHOLD: '0.3',
      COOLDOWN_BARS: '0',
      AGENTS_ENABLED: 'false',
      JOURNAL_SNAPSHOT_EVERY: '10',
      JOURNAL_PATH: journalPath,
      LOG_LEVEL: 'silent',
      PORT: 0,
    });
    service = await startService(settings, { port: 0, logger: false, log: () => undefined });
    const s = service;
    const decide = async (symbol: string, action: string) => {
      const r = await s.app.inject({
        method: 'POST',
        url: '/inference/decisions',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        payload: { symbol, action, confidence: 0.9, reason: 'kill-point test' },
      });
      expect(r.statusCode, r.body).toBeLessThan(300);
    };
    // a bar closed before the market stream is up arrives only with the next one
    await until('the market stream', () => (s.market.status() === 'connected' ? true : undefined), 20_000, 10);
    for (let i = 0; i < BARS; i++) {
      const before = s.engine.lastBarTime;
      sim.advance(1);
      await until(
        'the service to take the bar',
        () => (s.engine.lastBarTime > before ? true : undefined),
        20_000,
        5,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)} at bar ${i}: ${before} ${s.engine.lastError} ${s.engine.unavailable}`);
      });
      // entries and exits of our own besides the strategy's, so stops are placed and replaced
      if (i % 25 === 5) await decide(i % 50 === 5 ? 'BTCUSDT' : 'ETHUSDT', 'enter-long');
      if (i % 25 === 20) await decide(i % 50 === 20 ? 'BTCUSDT' : 'ETHUSDT', 'exit');
    }
    // the fills of the last orders come back over the user stream: wait until every quantity the
    // exchange filled is in the journal as a venue fill of its client order id
    await until(
      'the last fills in the journal',
      () => (fillsJournaled(journalPath, sim!) ? true : undefined),
      20_000,
      10,
    );
    const filters = s.market.filters ?? filtersFor(settings.SYMBOLS);
    await s.close();
    service = null;

    const lines = readFileSync(journalPath, 'utf8').trimEnd().split('\n');
    const kinds = lines.map((l) => (JSON.parse(l) as { type: string }).type);
    const orders = kinds.filter((k) => k === 'order').length;
    const snapshots = kinds.filter((k) => k === 'snapshot').length;
    expect(orders).toBeGreaterThan(10);
    expect(snapshots).toBeGreaterThan(5);

    // kill points (the journal is appended line by line): after every order and venue event, and
    // every few lines between, from the first snapshot on — a bounded count
    const first = kinds.indexOf('snapshot');
    const stride = Math.max(1, Math.ceil((lines.length - first) / 120));
    const ends: number[] = [];
    for (let end = first + 1; end <= lines.length; end++)
      if (kinds[end - 1] === 'order' || kinds[end - 1] === 'venue' || end % stride === 0 || end === lines.length)
        ends.push(end);
    let cuts = 0;
    let fromSnapshot = 0;
    for (const end of ends) {
      const prefix = lines.slice(0, end);
      const withSnapshots = join(dir, `cut-${end}.jsonl`);
      const fullReplay = join(dir, `cut-${end}-full.jsonl`);
      writeFileSync(withSnapshots, `${prefix.join('\n')}\n`);
      writeFileSync(fullReplay, `${prefix.filter((_, i) => kinds[i] !== 'snapshot').join('\n')}\n`);
      const a = await restart(withSnapshots, settings, filters);
      const b = await restart(fullReplay, settings, filters);
      if (a.replayed < b.replayed) fromSnapshot++;
      const { replayed: _a, ...snap } = a;
      const { replayed: _b, ...full } = b;
      expect(snap, `kill after journal line ${end} (${kinds[end - 1]})`).toEqual(full);
      cuts++;
    }
    console.error(`kill points: ${cuts} cuts of ${lines.length} lines, ${orders} orders, ${snapshots} snapshots`);
    expect(cuts).toBeGreaterThan(100);
    expect(sent).toEqual([]);
    expect(fromSnapshot).toBe(cuts);
  }, 300_000);
});
