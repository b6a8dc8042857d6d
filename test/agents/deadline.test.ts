import { afterEach, describe, expect, it } from 'vitest';
import { firstValueFrom, Subject, toArray } from 'rxjs';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import type { AgentContext } from '../../pipelines/ports.ts';
import type { PipelineEvent, Signal } from '../../pipelines/model/index.ts';
import { AgentGateway } from '../../agents/gateway.ts';
import { thesisClient } from '../../agents/thesis-client.ts';
import { AgentError } from '../../operators/agents/agent-error.ts';
import { agentStage } from '../../operators/agents/agents.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { completion, startModelServer, type Behaviour, type ModelServer } from './kit/model-server.ts';

const btc = fixtureColumns('BTCUSDT');

function ctxAt(t: number): AgentContext {
  return {
    symbol: 'BTCUSDT',
    time: btc.openTime[t]! + btc.intervalMs,
    price: btc.close[t]!,
    change24h: 0,
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
const ok = (): Behaviour => ({ status: 200, body: completion(JSON.stringify(thesis)) });

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

const settingsFor = (url: string, o: Record<string, unknown> = {}): Settings =>
  parseSettings({ FINGPT_ENDPOINT: url, FINGPT_MODEL: 'test-model', AGENT_CACHE_TTL_SECONDS: 0, ...o });

async function failure(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgentError);
    return e as AgentError;
  }
  throw new Error('expected a failure');
}

describe('a deadline per decision', () => {
  it('a hung model fails as `deadline` at AGENT_DECISION_DEADLINE_SECONDS, not after timeout × retries', async () => {
    const srv = await server(() => ({ hang: true }));
    const s = settingsFor(srv.url, {
      LLM_TIMEOUT_SECONDS: 30,
      AGENT_RETRY_ATTEMPTS: 4,
      AGENT_DECISION_DEADLINE_SECONDS: 0.3,
    });
    const g = new AgentGateway({ settings: s });
    const started = performance.now();
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    expect(e.fault).toBe('deadline');
    // bounded far below one 30 s attempt: the deadline cut it
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(srv.requests.length).toBe(1);
    expect(g.stats.faults).toEqual({ 'fingpt:deadline': 1 });
    expect(g.stats.inFlight).toBe(0);
  });

  it('retries only while the deadline leaves room for them', async () => {
    const srv = await server(() => ({ status: 500, body: '' }));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 10, AGENT_DECISION_DEADLINE_SECONDS: 0.5 });
    const g = new AgentGateway({ settings: s, backoffBaseMs: 100, random: () => 1 });
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    // 100 + 200 ms of backoff fit in 0.5 s, 400 more do not: three attempts, the 5xx stands
    expect(e.fault).toBe('http-5xx');
    expect(srv.requests.length).toBe(3);
  });

  it('honours Retry-After on a 429 within the deadline, and gives up at once when it does not fit', async () => {
    const srv = await server((n) => (n === 1 ? { status: 429, body: '{}', headers: { 'retry-after': '0.2' } } : ok()));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 2, AGENT_DECISION_DEADLINE_SECONDS: 5 });
    const delays: number[] = [];
    const g = new AgentGateway({
      settings: s,
      backoffBaseMs: 1,
      timers: {
        setTimeout(fn, ms) {
          if (ms < 1000) delays.push(ms);
          return setTimeout(fn, ms);
        },
        clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      },
    });
    expect((await g.call(thesisClient(s), ctxAt(400))).accepted).toBe(true);
    expect(srv.requests.length).toBe(2);
    expect(delays).toEqual([200]);

    const later = await server(() => ({ status: 429, body: '{}', headers: { 'retry-after': '60' } }));
    const s2 = settingsFor(later.url, { AGENT_RETRY_ATTEMPTS: 5, AGENT_DECISION_DEADLINE_SECONDS: 2 });
    const g2 = new AgentGateway({ settings: s2, backoffBaseMs: 1 });
    const e = await failure(g2.call(thesisClient(s2), ctxAt(400)));
    expect(e.fault).toBe('http-429');
    expect(later.requests.length).toBe(1);
  });

  it('the agent stage never holds the event stream past the deadline', async () => {
    const srv = await server(() => ({ hang: true }));
    const s = settingsFor(srv.url, {
      AGENT_DECISION_DEADLINE_SECONDS: 0.3,
      AGENT_FAILURE_POLICY: 'fail-closed',
      COLLAB_SYMBOLS: '',
    });
    const g = new AgentGateway({ settings: s });
    const input = new Subject<PipelineEvent>();
    const out = firstValueFrom(input.pipe(agentStage(s, [g.wrap(thesisClient(s))]), toArray()));
    const ctx = ctxAt(400);
    const signal = {
      kind: 'signal',
      time: ctx.time,
      symbol: 'BTCUSDT',
      direction: 1,
      price: ctx.price,
      strength: 1,
      features: { change24h: 0, atr: ctx.atr, volatility: 0.5, bar: { volume: 1 } },
      opinions: [],
    } as unknown as Signal;
    input.next(signal);
    input.complete();
    const events = await out;
    expect(events.map((e) => e.kind)).toEqual(['agent-fault', 'signal']);
    expect(events[0]).toMatchObject({ fault: 'deadline', agent: 'fingpt' });
    const decided = events[1] as Signal;
    expect(decided.opinions).toMatchObject([{ agent: 'fingpt', blocksEntry: true, accepted: false }]);
  });
});

describe('bounded replies', () => {
  it('refuses a reply over AGENT_MAX_REPLY_BYTES as `oversized`, streamed or declared, without retrying', async () => {
    const big = completion(JSON.stringify({ ...thesis, thesis: 'x'.repeat(5 * 1024 * 1024) }));
    const srv = await server(() => ({ status: 200, body: big }));
    const s = settingsFor(srv.url, { AGENT_RETRY_ATTEMPTS: 3 });
    const g = new AgentGateway({ settings: s, backoffBaseMs: 1 });
    const e = await failure(g.call(thesisClient(s), ctxAt(400)));
    expect(e.fault).toBe('oversized');
    expect(e.message).toMatch(/exceeds 262144 bytes/);
    expect(srv.requests.length).toBe(1);

    // a reply just under the limit is read whole
    const fits = completion(JSON.stringify({ ...thesis, thesis: `${'y'.repeat(1000)}.` }));
    const small = await server(() => ({ status: 200, body: fits }));
    const s2 = settingsFor(small.url, { AGENT_MAX_REPLY_BYTES: fits.length });
    expect((await new AgentGateway({ settings: s2 }).call(thesisClient(s2), ctxAt(400))).accepted).toBe(true);
    const s3 = settingsFor(small.url, { AGENT_MAX_REPLY_BYTES: fits.length - 1 });
    expect((await failure(new AgentGateway({ settings: s3 }).call(thesisClient(s3), ctxAt(400)))).fault).toBe(
      'oversized',
    );
  });
});
