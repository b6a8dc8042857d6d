import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import autocannon from 'autocannon';
import type { FastifyInstance } from 'fastify';
import type { Bar, BarColumns, PipelineEvent } from '../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { TradingEngine } from '../../live/engine/trading-engine.ts';
import { replayMarket, splitReplay } from '../../live/engine/replay-market.ts';
import { FileJournal } from '../../live/journal/file-journal.ts';
import { ServiceMetrics } from '../../live/telemetry/metrics.ts';
import { RingBufferStreams } from '../../live/telemetry/streams.ts';
import { telemetryPublisher } from '../../live/telemetry/publisher.ts';
import { buildApp } from '../../live/service/app.ts';
import { ACTIVE_STRATEGY } from './crash-restart.ts';
import { fmt, percentile, REPO, tempDir, type SoakRow } from '../kit.ts';

/**
 * Real aligned bars for the load runs: spot-5m-2024 when ../shared is there, else the sample —
 * only the symbols the shipped leverage brackets cover (pipelines/margin/PROVENANCE.md): the paper
 * venue refuses to margin a symbol it has no table for, and no table is invented for the others.
 */
export async function loadSeries(): Promise<{ series: BarColumns[]; note: string }> {
  const brackets = leverageBrackets();
  const shared = join(REPO, '../shared/data/spot-5m-2024');
  const dir = existsSync(shared) ? shared : join(REPO, 'data/sample/perp-5m');
  const all = await loadDataset({ dir });
  const series = all.filter((c) => brackets.has(c.symbol));
  const left = all.filter((c) => !brackets.has(c.symbol)).map((c) => c.symbol);
  const name = existsSync(shared) ? 'spot-5m-2024' : 'data/sample/perp-5m (../shared/data absent)';
  const without = left.length > 0 ? `; ${left.join(', ')} left out: no leverage brackets shipped` : '';
  return { series, note: `${name} (${series.length} symbols${without})` };
}

export interface Harness {
  settings: Settings;
  engine: TradingEngine;
  app: FastifyInstance;
  metrics: ServiceMetrics;
  /** seconds from bar arrival to order, one per order (the engine hook) */
  latencies: number[];
  close(): Promise<void>;
}

/**
 * The real engine and admin app (paper venue, file journal, in-memory telemetry, metrics) over
 * a market observable. Used by scenario 7 and by the service bench.
 */
export async function tradingHarness(
  symbols: string[],
  market: Observable<Bar>,
  warmup: Bar[],
  overrides: Record<string, string | number> = {},
): Promise<Harness> {
  const settings = parseSettings({
    ...ACTIVE_STRATEGY,
    SYMBOLS: symbols.join(','),
    ADMIN_API_TOKEN: 'soak-load-token-31e9',
    RATE_LIMIT_PER_MINUTE: 100_000,
    ...overrides,
  });
  const filters = filtersFor(symbols);
  const journal = new FileJournal(join(tempDir('load'), 'journal.jsonl'));
  const streams = new RingBufferStreams(settings.REDIS_STREAM_MAXLEN);
  const metrics = new ServiceMetrics(settings.BOT_ID);
  const latencies: number[] = [];
  const listeners = new Set<(e: PipelineEvent) => void>();
  const clock = { now: () => Date.now() };
  const engine = new TradingEngine({
    settings,
    filters,
    market,
    warmup: async () => warmup,
    execution: simulatedVenue(settings, { filters }),
    journal,
    clock,
    sinks: [
      (e) => metrics.observe(e),
      telemetryPublisher(streams, settings.BOT_ID),
      (e) => {
        for (const l of listeners) l(e);
      },
    ],
    onOrderLatency: (s) => {
      latencies.push(s);
      metrics.decisionLatency.observe(s);
    },
  });
  const app = await buildApp({
    settings,
    engine,
    streams,
    metrics,
    clock,
    probe: { mode: 'paper', exchange: () => 'replay', redis: () => 'in-memory', models: () => [] },
    onEvents: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  });
  await engine.start();
  return {
    settings,
    engine,
    app,
    metrics,
    latencies,
    async close() {
      await app.close();
      await engine.shutdown();
      journal.close();
    },
  };
}

/** The 99th percentile of the `decision_latency_seconds` histogram (upper bucket bound), in ms. */
export async function histogramP(metrics: ServiceMetrics, q: number): Promise<number | null> {
  const data = await metrics.decisionLatency.get();
  const buckets = data.values.filter((v) => v.metricName?.endsWith('_bucket'));
  const count = data.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  if (count === 0) return null;
  for (const b of buckets) {
    if (b.value >= q * count) return b.labels.le === '+Inf' ? null : Number(b.labels.le) * 1000;
  }
  return null;
}

export async function cannon(
  url: string,
  durationS: number,
  connections = 10,
): Promise<{ requests: number; rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  // the load generator runs in a worker thread, so it does not share the server's event loop
  const r = await autocannon({ url, duration: durationS, connections, workers: 1 });
  return {
    requests: r.requests.total,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/**
 * Scenario 7: 5 symbols (spot-5m-2024 when present) at one bar per `stepMs` per symbol through
 * the engine while autocannon hits /dashboard and /metrics on loopback.
 */
export async function loadScenario(opts: { durationS: number; stepMs?: number }): Promise<SoakRow[]> {
  const { series, note } = await loadSeries();
  const stepMs = opts.stepMs ?? 100;
  const warm = 600;
  const liveFrom = series[0]!.openTime[warm]!;
  const steps = Math.ceil((opts.durationS * 1000) / stepMs) + 20;
  const { history, bars } = replayMarket(series, { liveFrom, stepMs, maxSteps: steps });
  const h = await tradingHarness(
    series.map((c) => c.symbol),
    bars,
    history,
  );
  try {
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const bars0 = h.engine.counts.bars;
    const [dash, prom] = await Promise.all([
      cannon(`${url}/dashboard`, opts.durationS, 5),
      cannon(`${url}/metrics`, opts.durationS, 5),
    ]);
    await h.engine.idle();
    const traded = h.engine.counts.bars - bars0;
    const p50 = percentile(h.latencies, 50);
    const p99 = percentile(h.latencies, 99);
    const histP99 = await histogramP(h.metrics, 0.99);
    const ms = (s: number | null) => (s === null ? null : s * 1000);
    return [
      {
        scenario: '7 load',
        injected: `${series.length} symbols at 1 bar/${stepMs} ms each + autocannon on /dashboard and /metrics (${opts.durationS} s, 5+5 connections)`,
        count: h.latencies.length,
        held: h.latencies.length > 0 && p99 !== null && p99 * 1000 <= 5 && dash.errors === 0 && prom.errors === 0,
        figures:
          `${note}: ${traded} bars, ${h.latencies.length} orders; decision latency p50 ${fmt(ms(p50), 3)} ms, ` +
          `p99 ${fmt(ms(p99), 3)} ms (histogram p99 ≤ ${fmt(histP99, 2)} ms), target p99 ≤ 5 ms; ` +
          `/dashboard ${fmt(dash.rps, 0)} req/s p99 ${dash.p99} ms; /metrics ${fmt(prom.rps, 0)} req/s p99 ${prom.p99} ms; ` +
          `errors ${dash.errors + prom.errors}, non-2xx ${dash.non2xx + prom.non2xx}`,
      },
    ];
  } finally {
    await h.close();
  }
}

/** Bars fed by hand as fast as the engine takes them: decision latency with no load. */
export async function unloadedLatency(maxSteps: number): Promise<{ latencies: number[]; bars: number }> {
  const { series } = await loadSeries();
  const warm = 600;
  const { history, live } = splitReplay(series, series[0]!.openTime[warm]!);
  const market = new Subject<Bar>();
  const h = await tradingHarness(
    series.map((c) => c.symbol),
    market,
    history,
  );
  let bars = 0;
  try {
    for (const step of live.slice(0, maxSteps)) {
      for (const bar of step) market.next(bar);
      bars += step.length;
      await h.engine.idle();
    }
    return { latencies: [...h.latencies], bars };
  } finally {
    await h.close();
  }
}
