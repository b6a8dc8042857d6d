import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import type { AgentContext } from '../../pipelines/ports.ts';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { embeddedForecastAgent, embeddedThesisAgent } from '../../operators/agents/embedded.ts';
import { AgentGateway } from '../../agents/gateway.ts';
import { thesisClient, chatCompletionsUrl } from '../../agents/thesis-client.ts';
import { postJson } from '../../agents/http.ts';
import { hasSharedData, median, SHARED_DATA, timeRuns } from '../kit.ts';
import type { Figures } from '../run.ts';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Agent contexts from real bars: up to 2000, from bar 300 on (change24h looks 288 bars back). */
function contextsFrom(c: BarColumns, settings: Settings): AgentContext[] {
  const contexts: AgentContext[] = [];
  for (let t = 300; t < Math.min(c.length, 300 + 2000); t++) {
    contexts.push({
      symbol: c.symbol,
      time: c.openTime[t]! + c.intervalMs,
      price: c.close[t]!,
      change24h: c.close[t]! / c.close[t - 288]! - 1,
      volume: c.volume[t]!,
      atr: c.high[t]! - c.low[t]!,
      volatility: 0.6,
      closes: Array.from(c.close.subarray(t - settings.AGENT_CONTEXT_BARS + 1, t + 1)),
      position: 0,
      proposedDirection: 1,
      strategy: 'momentum',
    });
  }
  return contexts;
}

/**
 * The gateway's per-call latency against an instant local chat-completions server, 4 in flight,
 * and the same traffic as plain HTTP for a baseline.
 */
async function benchGateway(contexts: AgentContext[]): Promise<Figures> {
  const out: Figures = {};
  const reply = JSON.stringify({
    choices: [
      {
        message: {
          content: JSON.stringify({
            thesis: 'Instant bench reply for latency.',
            side: 'buy',
            risk_score: 0.5,
            confidence: 0.8,
          }),
        },
      },
    ],
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s = parseSettings({
    FINGPT_ENDPOINT: url,
    FINGPT_MODEL: 'bench-model',
    MAX_PARALLEL_AGENTS: 4,
    AGENT_CACHE_TTL_SECONDS: 0,
  });
  const gateway = new AgentGateway({ settings: s });
  const agent = thesisClient(s);
  const latencies: number[] = [];
  const total = 4000;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const ctx = contexts[next++ % contexts.length]!;
      const t0 = performance.now();
      await gateway.call(agent, { ...ctx, time: ctx.time + next });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  // the same traffic without the gateway (plain keep-alive HTTP): the difference is the gateway's own cost
  const raw: number[] = [];
  let rawNext = 0;
  const rawWorker = async (): Promise<void> => {
    const signal = new AbortController().signal;
    while (rawNext < total) {
      rawNext++;
      const t0 = performance.now();
      await postJson(chatCompletionsUrl(url), { model: 'bench', messages: [] }, {}, signal);
      raw.push(performance.now() - t0);
    }
  };
  await Promise.all([rawWorker(), rawWorker(), rawWorker(), rawWorker()]);
  await new Promise<void>((r) => server.close(() => r()));
  const rawSteady = raw.slice(200);
  out.agent_http_p99_ms = {
    value: quantile(rawSteady, 0.99),
    unit: 'ms',
    note: 'same server and concurrency, plain HTTP without the gateway (baseline)',
  };
  const steady = latencies.slice(200);
  out.agent_gateway_p50_ms = { value: quantile(steady, 0.5), unit: 'ms', note: 'instant local server, 4 in flight' };
  out.agent_gateway_p99_ms = {
    value: quantile(steady, 0.99),
    unit: 'ms',
    note: `full call incl. loopback HTTP, ${steady.length} calls after 200 warm-up`,
  };
  return out;
}

/**
 * The agent layer: backtest throughput with the embedded agents asked at every entry signal
 * (vs agents off), the embedded agents' cost per call, and the gateway's per-call latency against
 * an instant local chat-completions server at 4 calls in flight.
 */
export async function benchAgents(): Promise<Figures> {
  const out: Figures = {};
  const dir = hasSharedData()
    ? `${SHARED_DATA}perp-5m-2025`
    : fileURLToPath(new URL('../../data/sample/perp-5m', import.meta.url));
  const note = hasSharedData() ? 'perp-5m-2025' : 'shipped sample (../shared/data absent)';
  const series = await loadDataset({ dir });
  const symbols = series.map((c) => c.symbol).join(',');
  const bars = series.reduce((n, c) => n + c.length, 0);

  const on = parseSettings({ SYMBOLS: symbols, AGENTS_ENABLED: true });
  const offSettings = parseSettings({ SYMBOLS: symbols });
  let agentDenials = 0;
  let entries = 0;
  const withAgents = timeRuns(3, 1, () => {
    const r = runBacktest({ settings: on, series });
    entries = r.decisions.filter((d) => d.action !== 'exit').length;
    agentDenials = r.denials['consensus:agent-gates'] ?? 0;
  });
  const without = timeRuns(3, 1, () => void runBacktest({ settings: offSettings, series }));
  out.agents_pipeline_bars_per_s = {
    value: bars / median(withAgents),
    unit: 'bars/s',
    note: `${note}, ${bars} bars, embedded agents on, ${entries} entries, ${agentDenials} agent denials, median of 3`,
  };
  out.agents_off_pipeline_bars_per_s = { value: bars / median(without), unit: 'bars/s', note: 'same data, agents off' };
  out.agents_on_to_off_ratio = { value: median(without) / median(withAgents), unit: 'ratio' };

  // embedded agents per call, on real contexts from the first series
  const contexts = contextsFrom(series[0]!, on);
  for (const [name, agent] of [
    ['agent_embedded_forecast_us', embeddedForecastAgent(on)],
    ['agent_embedded_thesis_us', embeddedThesisAgent(on)],
  ] as const) {
    const runs = timeRuns(5, 2, () => {
      for (const ctx of contexts) agent.opinion(ctx);
    });
    out[name] = {
      value: (median(runs) / contexts.length) * 1e6,
      unit: 'µs/call',
      note: `${on.AGENT_CONTEXT_BARS} closes, horizon ${on.LAGLLAMA_HORIZON}`,
    };
  }

  // gateway against an instant local chat-completions server, 4 in flight
  Object.assign(out, await benchGateway(contexts));
  return out;
}
