import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import type { FastifyInstance } from 'fastify';
import type { Bar, PipelineEvent } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { TradingEngine, type EngineOptions } from '../../live/engine/trading-engine.ts';
import { FileJournal } from '../../live/journal/file-journal.ts';
import { ServiceMetrics } from '../../live/telemetry/metrics.ts';
import { RingBufferStreams, type StreamStore } from '../../live/telemetry/streams.ts';
import { telemetryPublisher } from '../../live/telemetry/publisher.ts';
import { buildApp } from '../../live/service/app.ts';
import type { AppOptions } from '../../live/service/app-options.ts';
import { mergedFixtureBars } from './fixture-bars.ts';
import { activeSettings } from './pipeline-kit.ts';

export const ADMIN = 'test-admin-token-5f1c2a';

/**
 * The real engine and app over real fixture bars, with the market fed by hand so a test
 * decides when each bar arrives. The first `warm` merged bars are the warm-up history.
 */
export async function testService(
  options: {
    settings?: Partial<Record<string, unknown>>;
    warm?: number;
    journalPath?: string;
    streams?: StreamStore;
    app?: Partial<AppOptions>;
    /** engine options to add or replace (e.g. a faulty stage as `agents`, an `onFailure` hook) */
    engine?: Partial<EngineOptions>;
  } = {},
) {
  const settings: Settings = activeSettings({
    ADMIN_API_TOKEN: ADMIN,
    RATE_LIMIT_PER_MINUTE: 1000,
    ...options.settings,
  });
  const all = mergedFixtureBars(['BTCUSDT', 'ETHUSDT']);
  const warm = options.warm ?? 2 * 300;
  const history = all.slice(0, warm);
  const live = all.slice(warm);
  const market = new Subject<Bar>();
  const filters = filtersFor(settings.SYMBOLS);
  const journalPath = options.journalPath ?? join(mkdtempSync(join(tmpdir(), 'sapphire-journal-')), 'journal.jsonl');
  const journal = new FileJournal(journalPath);
  const streams = options.streams ?? new RingBufferStreams(settings.REDIS_STREAM_MAXLEN);
  const metrics = new ServiceMetrics(settings.BOT_ID);
  const sent: PipelineEvent[] = [];
  const listeners = new Set<(e: PipelineEvent) => void>();
  let now = Date.parse('2025-01-30T00:00:00Z');
  const clock = { now: () => now };
  const engine = new TradingEngine({
    settings,
    filters,
    market,
    warmup: async () => history,
    execution: simulatedVenue(settings, { filters }),
    journal,
    clock,
    sinks: [
      (e) => sent.push(e),
      (e) => metrics.observe(e),
      telemetryPublisher(streams, settings.BOT_ID),
      (e) => {
        for (const l of listeners) l(e);
      },
    ],
    onOrderLatency: (s) => metrics.decisionLatency.observe(s),
    ...options.engine,
  });
  const app: FastifyInstance = await buildApp({
    settings,
    engine,
    streams,
    metrics,
    clock,
    probe: { mode: 'paper', exchange: () => 'simulated', redis: () => 'in-memory', models: () => [] },
    onEvents: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    ...options.app,
  });
  await engine.start();
  let cursor = 0;
  /** delivers the next n live bars and waits until they are processed */
  const feed = async (n: number) => {
    for (let i = 0; i < n && cursor < live.length; i++) market.next(live[cursor++]!);
    await engine.idle();
  };
  return {
    settings,
    engine,
    app,
    /** the live feed itself: a test may push any bar, valid or not */
    market,
    journal,
    journalPath,
    streams,
    metrics,
    sent,
    live,
    history,
    feed,
    advanceClock: (ms: number) => (now += ms),
    close: async () => {
      await app.close();
      await engine.shutdown();
      journal.close();
    },
  };
}

export const auth = { authorization: `Bearer ${ADMIN}` };
