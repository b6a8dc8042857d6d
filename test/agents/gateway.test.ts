import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import type { AgentContext, Timers } from '../../pipelines/ports.ts';
import { AgentGateway } from '../../agents/gateway.ts';
import { realTimers } from '../../runtime/timers.ts';
import { thesisClient, chatCompletionsUrl } from '../../agents/thesis-client.ts';
import { forecastClient } from '../../agents/forecast-client.ts';
import { AgentError } from '../../operators/agents/agent-error.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { completion, startModelServer, type Behaviour, type ModelServer } from './kit/model-server.ts';

const KEY = 'sk-test-SECRET-4f9a2c';
const btc = fixtureColumns('BTCUSDT');

/** A real context from the BTC fixture at bar t. */
function ctxAt(t: number): AgentContext {
  return {
    symbol: 'BTCUSDT',
    time: btc.openTime[t]! + btc.intervalMs,
    price: btc.close[t]!,
    change24h: btc.close[t]! / btc.close[t - 288]! - 1,
    volume: btc.volume[t]!,
    atr: btc.high[t]! - btc.low[t]!,
    volatility: 0.5,
    closes: Array.from(btc.close.subarray(t - 63, t + 1)),
    position: 0,
    proposedDirection: 1,
    strategy: 'momentum',
  };
}

const thesis = {
  thesis: 'Bitcoin is grinding higher on steady volume.',
  side: 'buy',
  risk_score: 0.5,
  confidence: 0.8,
};
const ok = (content = JSON.stringify(thesis)): Behaviour => ({ status: 200, body: completion(content) });

let servers: ModelServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(script: (n: number) => Behaviour): Promise<ModelServer> {
  const s = await startModelServer((r) => script(r.n));
  servers.push(s);
  return s;
}

function settingsFor(url: string, o: Record<string, unknown> = {}): Settings {
  return parseSettings({
    FINGPT_ENDPOINT: url,
    FINGPT_MODEL: 'fingpt',
    FINGPT_API_KEY: KEY,
    LAGLLAMA_ENDPOINT: `${url}/forecast`,
    LAGLLAMA_API_KEY: KEY,
    LLM_TIMEOUT_SECONDS: 5,
    AGENT_RETRY_ATTEMPTS: 2,
    ...o,
  });
}

function gatewayFor(s: Settings, extra: Partial<ConstructorParameters<typeof AgentGateway>[0]> = {}): AgentGateway {
  return new AgentGateway({ settings: s, backoffBaseMs: 1, ...extra });
}

async function failure(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgentError);
    expect((e as Error).message).not.toContain(KEY);
    return e as AgentError;
  }
  throw new Error('expected a failure');
}

describe('thesis agent through the gateway', () => {
  it('asks an OpenAI-compatible endpoint with the key only in the Authorization header', async () => {
    const srv = await server(() => ok());
    const s = settingsFor(srv.url);
    const op = await gatewayFor(s).call(thesisClient(s), ctxAt(400));
    expect(op).toEqual({
      agent: 'fingpt',
      direction: 1,
      confidence: 0.8,
      riskScore: 0.5,
      accepted: true,
      blocksEntry: false,
      summary: thesis.thesis,
    });
    const req = srv.requests[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = req.body as { model: string; messages: { role: string; content: string }[] };
    expect(body.model).toBe('fingpt');
    expect(JSON.stringify(body)).not.toContain(KEY);
    const prompt = body.messages[1]!.content;
    expect(prompt).toContain('BTCUSDT');
    expect(prompt).toContain(String(btc.close[400]));
    // only closes up to the bar
    expect(prompt).not.toContain(String(btc.close[401]) + ',');
    expect(chatCompletionsUrl('http://h:1/v1/')).toBe('http://h:1/v1/chat/completions');
  });

  it('accepts JSON wrapped in prose and code fences', async () => {
    const replies = [
      'Sure! Here is my analysis:\n```json\n' + JSON.stringify(thesis) + '\n```',
      'I would say ' + JSON.stringify({ ...thesis, side: 'SELL' }) + ' given the setup.',
    ];
    const srv = await server((n) => ok(replies[n - 1]));
    const s = settingsFor(srv.url, { AGENT_CACHE_TTL_SECONDS: 0 });
    const g = gatewayFor(s);
    expect((await g.call(thesisClient(s), ctxAt(400))).direction).toBe(1);
    expect((await g.call(thesisClient(s), ctxAt(400))).direction).toBe(-1);
  });

  it('rejects garbage and hallucinated replies without retrying, and counts the fault', async () => {
    const replies = [
      'I cannot help with that.',
      JSON.stringify({ ...thesis, thesis: 'up' }),
      JSON.stringify({ ...thesis, side: 'moon' }),
      '{"thesis": "Bitcoin looks strong today.", "side": "buy", "risk_score": NaN, "confidence": 0.9}',
    ];
    const srv = await server((n) => (n === 5 ? { status: 200, body: 'not json at all' } : ok(replies[n - 1])));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    for (let t = 0; t < 5; t++) {
      const e = await failure(g.call(thesisClient(s), ctxAt(400 + t)));
      expect(e.fault).toBe('invalid-reply');
    }
    expect(srv.requests.length).toBe(5);
    expect(g.stats.faults).toEqual({ 'fingpt:invalid-reply': 5 });
    expect(g.stats.retries).toBe(0);
  });

  it('does not retry a 4xx', async () => {
    const srv = await server(() => ({ status: 401, body: '{"error":"bad key"}' }));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    expect(e.fault).toBe('http-4xx');
    expect(srv.requests.length).toBe(1);
  });

  it('retries 5xx with backoff until it succeeds', async () => {
    const srv = await server((n) => (n <= 2 ? { status: 503, body: 'overloaded' } : ok()));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    expect((await g.call(thesisClient(s), ctxAt(400))).accepted).toBe(true);
    expect(srv.requests.length).toBe(3);
    expect(g.stats.retries).toBe(2);
    expect(g.stats.faults).toEqual({});
  });

  it('gives up after AGENT_RETRY_ATTEMPTS retries of 5xx', async () => {
    const srv = await server(() => ({ status: 500, body: '' }));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 3 });
    const g = gatewayFor(s);
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    expect(e.fault).toBe('http-5xx');
    expect(srv.requests.length).toBe(4);
    expect(g.stats.faults).toEqual({ 'fingpt:http-5xx': 1 });
  });

  it('times out a hanging model after LLM_TIMEOUT_SECONDS, retrying each time', async () => {
    const srv = await server(() => ({ hang: true }));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 1, LLM_TIMEOUT_SECONDS: 0.2 });
    const g = gatewayFor(s);
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    expect(e.fault).toBe('timeout');
    expect(srv.requests.length).toBe(2);
    expect(g.stats.inFlight).toBe(0);
  });

  it('retries a connection hang-up (transport failure) and then succeeds', async () => {
    const srv = await server((n) => (n === 1 ? { hangup: true } : ok()));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    expect((await g.call(thesisClient(s), ctxAt(400))).agent).toBe('fingpt');
    expect(srv.requests.length).toBe(2);
  });

  it('waits an exponentially growing, jittered delay between retries', async () => {
    const srv = await server((n) => (n <= 3 ? { status: 502, body: '' } : ok()));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 3 });
    const delays: number[] = [];
    const timers: Timers = {
      setTimeout(fn, ms) {
        if (ms >= 200) return realTimers.setTimeout(fn, ms); // the 5 s call timeout
        delays.push(ms);
        return realTimers.setTimeout(fn, 0);
      },
      clearTimeout: realTimers.clearTimeout,
    };
    const g = new AgentGateway({ settings: s, timers, backoffBaseMs: 40, random: () => 0.5 });
    await g.call(thesisClient(s), ctxAt(400));
    expect(delays).toEqual([40 * 0.75, 80 * 0.75, 160 * 0.75]);
  });
});

describe('gateway limits and cache', () => {
  it('never has more than MAX_PARALLEL_AGENTS calls in flight at the server', async () => {
    const srv = await server(() => ({ ...ok(), delayMs: -1 }));
    const s = settingsFor(srv.url, { MAX_PARALLEL_AGENTS: 2 });
    const g = gatewayFor(s);
    const calls = Array.from({ length: 7 }, (_, i) => g.call(thesisClient(s), ctxAt(400 + i)));
    let answered = 0;
    for (let round = 0; round < 200 && answered < 7; round++) {
      const want = Math.min(2, 7 - answered);
      for (let spin = 0; spin < 2500 && srv.inFlight < want; spin++) await new Promise((r) => setTimeout(r, 2));
      expect(srv.inFlight).toBe(want);
      answered += srv.inFlight;
      srv.release();
    }
    const ops = await Promise.all(calls);
    expect(ops.length).toBe(7);
    expect(srv.maxInFlight).toBe(2);
    expect(g.stats.maxInFlight).toBe(2);
    expect(srv.requests.length).toBe(7);
  });

  it('caches replies per agent + symbol + bar for AGENT_CACHE_TTL_SECONDS (injected clock)', async () => {
    const srv = await server(() => ok());
    const s = settingsFor(srv.url, { AGENT_CACHE_TTL_SECONDS: 10 });
    let now = 1_000_000;
    const g = gatewayFor(s, { clock: { now: () => now } });
    const agent = thesisClient(s);
    const [a, b] = await Promise.all([g.call(agent, ctxAt(400)), g.call(agent, ctxAt(400))]);
    expect(a).toEqual(b);
    expect(srv.requests.length).toBe(1);
    now += 9_999;
    await g.call(agent, ctxAt(400));
    expect(srv.requests.length).toBe(1);
    await g.call(agent, ctxAt(401)); // another bar
    expect(srv.requests.length).toBe(2);
    now += 1;
    await g.call(agent, ctxAt(400)); // expired
    expect(srv.requests.length).toBe(3);
    expect(g.stats.cacheHits).toBe(2);
  });

  it('does not cache failures', async () => {
    const srv = await server((n) => (n === 1 ? { status: 400, body: '' } : ok()));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    await failure(g.call(thesisClient(s), ctxAt(400)));
    expect((await g.call(thesisClient(s), ctxAt(400))).accepted).toBe(true);
    expect(srv.requests.length).toBe(2);
  });
});

describe('forecast agent through the gateway', () => {
  const reply = (price: number, o: Record<string, unknown> = {}): Behaviour => ({
    status: 200,
    body: JSON.stringify({
      forecast: [price * 1.001, price * 1.002],
      lower_ci: [price * 0.99, price * 0.985],
      upper_ci: [price * 1.01, price * 1.02],
      anomaly_score: 0.1,
      confidence: 0.75,
      ...o,
    }),
  });

  it('sends the closes, horizon, freq and quantile levels; the platform derives confidence and anomaly', async () => {
    const ctx = ctxAt(500);
    const p = ctx.price;
    const samples = Array.from({ length: 40 }, (_, i) => [p * (1 + (i - 9.5) / 4000), p * (1 + (i - 9.5) / 2000)]);
    const srv = await server((n) =>
      n === 1
        ? reply(p)
        : n === 2
          ? { status: 200, body: JSON.stringify({ samples }) }
          : {
              status: 200,
              body: JSON.stringify({
                quantiles: {
                  '0.05': [p * 0.99, p * 0.98],
                  '0.5': [p * 0.999, p * 0.997],
                  '0.95': [p * 1.01, p * 1.02],
                },
              }),
            },
    );
    const s = settingsFor(srv.url, { LAGLLAMA_HORIZON: 2, AGENT_CACHE_TTL_SECONDS: 0 });
    const g = gatewayFor(s);
    const op = await g.call(forecastClient(s), ctx);
    // bands, as before; the model's own anomaly_score and confidence are ignored (0.1, 0.75)
    expect(op).toMatchObject({ agent: 'lagllama', direction: 1, accepted: true });
    expect(op.confidence).not.toBe(0.75);
    expect(op.confidence).toBeGreaterThan(0.5);
    const req = srv.requests[0]!;
    expect(req.path).toBe('/forecast');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.body).toEqual({
      symbol: 'BTCUSDT',
      time: ctx.time,
      closes: ctx.closes,
      horizon: 2,
      prediction_length: 2,
      freq: '5min',
      context_length: ctx.closes.length,
      quantile_levels: [0.05, 0.5, 0.95],
    });
    // sample paths: 30 of 40 end above the price → confidence 0.75, direction up
    const fromSamples = await g.call(forecastClient(s), ctx);
    expect(fromSamples).toMatchObject({ direction: 1, confidence: 0.75, accepted: true });
    // quantile paths: the median ends below the price → short view, confidence = mass below
    const fromQuantiles = await g.call(forecastClient(s), ctx);
    expect(fromQuantiles.direction).toBe(-1);
    expect(fromQuantiles.confidence).toBeGreaterThan(0.5);
    expect(fromQuantiles.confidence).toBeLessThan(0.6);
  });

  it('rejects a malformed forecast as invalid-reply', async () => {
    const srv = await server(() => ({ status: 200, body: '{"forecast": [1, 2], "lower_ci": [1]}' }));
    const s = settingsFor(srv.url);
    const g = gatewayFor(s);
    const e = await failure(g.call(forecastClient(s), ctxAt(500)));
    expect(e.fault).toBe('invalid-reply');
    expect(g.stats.faults).toEqual({ 'lagllama:invalid-reply': 1 });
  });
});
