import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { startService, type RunningService } from '../../live/service/service.ts';
import { REPO } from '../kit/cli.ts';
import { until } from '../../soak/kit.ts';
import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import { completion, startModelServer, type Behaviour, type ModelServer } from './kit/model-server.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const dir = mkdtempSync(join(tmpdir(), 'agents-service-faults-'));
let service: RunningService | null = null;
let model: ModelServer | null = null;
afterAll(async () => {
  await service?.close();
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A model that fails the way real ones do, in turn: 429, 500, slow, oversized, malformed. */
const FAILURES: Behaviour[] = [
  { status: 429, body: '{"error":"rate limited"}', headers: { 'retry-after': '30' } },
  { status: 500, body: 'internal' },
  { status: 200, body: completion('{}'), delayMs: 5_000 },
  { status: 200, body: completion('x'.repeat(400_000)) },
  { status: 200, body: completion('I am not sure what you mean.') },
];

describe('the live service with a failing remote agent', () => {
  it('goes on trading within the deadline, counts faults by kind and shows them in /healthz, /metrics and /dashboard', async () => {
    let asks = 0;
    model = await startModelServer((r) => {
      // the start-up probe (max_tokens 1) is answered; decisions meet the failures in turn
      if ((r.body as { max_tokens?: number }).max_tokens === 1) return { status: 200, body: completion('pong') };
      return FAILURES[asks++ % FAILURES.length]!;
    });
    service = await startService(
      parseSettings({
        SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
        SIMULATOR_REPLAY_MS: 15,
        JOURNAL_PATH: join(dir, 'journal.jsonl'),
        AGENTS_ENABLED: true,
        FINGPT_ENDPOINT: model.url,
        FINGPT_MODEL: 'test-model',
        AGENT_RETRY_ATTEMPTS: 0,
        AGENT_DECISION_DEADLINE_SECONDS: 0.5,
        PORT: 0,
      }),
      { embeddedExchange: startExchangeSimulator, port: 0 },
    );
    await until('five model calls', async () => (model!.requests.length >= 5 ? true : undefined), 60_000);
    const health = (await (await fetch(`${service.url}/healthz`)).json()) as {
      ok: boolean;
      degraded: boolean;
      agents: AgentHealth;
    };
    expect(health.ok).toBe(true);
    expect(health.agents.agents.fingpt).toBeDefined();
    await until(
      'every kind of fault counted',
      async () => {
        const h = (await (await fetch(`${service!.url}/healthz`)).json()) as { agents: AgentHealth };
        const kinds = Object.keys(h.agents.agents.fingpt!.faults);
        return ['http-429', 'http-5xx', 'deadline', 'oversized', 'invalid-reply'].every((k) => kinds.includes(k))
          ? h
          : undefined;
      },
      60_000,
    );
    // every call faults: the agent is unavailable, the service degraded, and every decision went without it
    const after = (await (await fetch(`${service.url}/healthz`)).json()) as {
      degraded: boolean;
      agents: AgentHealth;
    };
    expect(after.degraded).toBe(true);
    expect(after.agents.agents.fingpt!.available).toBe(false);
    expect(after.agents.agents.fingpt!.shareWithout).toBe(1);
    expect(after.agents.agents['forecast-garch']).toBeDefined();
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/agent_faults_total\{agent="fingpt",fault="oversized"\} [1-9]/);
    expect(metrics).toMatch(/agent_available\{agent="fingpt"\} 0/);
    expect(metrics).toMatch(/agent_decisions_without_ratio\{agent="fingpt"\} 1/);
    const view = (await (await fetch(`${service.url}/dashboard`)).json()) as { system: { agents: AgentHealth } };
    expect(view.system.agents.agents.fingpt!.available).toBe(false);
    // fail-closed by default: no entry was taken while the model failed
    expect(service.engine.trades.length + (service.engine.portfolio?.positions.length ?? 0)).toBe(0);
    // the pipeline kept up with the market: bars flowed while the model hung
    expect(service.engine.counts.bars).toBeGreaterThan(20);
  }, 150_000);
});
