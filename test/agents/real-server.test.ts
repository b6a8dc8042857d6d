import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import type { AgentContext } from '../../pipelines/ports.ts';
import { AgentGateway } from '../../agents/gateway.ts';
import { buildAgents } from '../../agents/build-agents.ts';
import { chatCompletionsUrl, probeThesisModel, thesisClient } from '../../agents/thesis-client.ts';
import { AgentError } from '../../operators/agents/agent-error.ts';
import { extractJson, parseThesisReply } from '../../operators/agents/replies.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { completion, startModelServer, type Behaviour, type ModelServer } from './kit/model-server.ts';

const btc = fixtureColumns('BTCUSDT');
const ctx: AgentContext = {
  symbol: 'BTCUSDT',
  time: btc.openTime[400]! + btc.intervalMs,
  price: btc.close[400]!,
  change24h: 0,
  volume: 1,
  atr: 10,
  volatility: 0.5,
  closes: Array.from(btc.close.subarray(337, 401)),
  position: 0,
  proposedDirection: 1,
  strategy: 'momentum',
};

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
  parseSettings({ FINGPT_ENDPOINT: url, FINGPT_MODEL: 'Qwen/Qwen2.5-7B-Instruct', AGENT_RETRY_ATTEMPTS: 0, ...o });

describe('a real OpenAI-compatible server', () => {
  it('reads <think> blocks, string numbers and percent scales', () => {
    const reply = extractJson(
      '<think>The user wants {"side": "sell"}? No, the trend is up.</think>\n' +
        '{"thesis": "Momentum is strong and volume confirms it.", "side": "BUY", "risk_score": "55%", "confidence": "0.8"}',
    );
    expect(parseThesisReply(reply)).toMatchObject({ side: 'buy', risk_score: 0.55, confidence: 0.8 });
    expect(parseThesisReply({ ...(reply as object), risk_score: 40, confidence: 0.9 }).risk_score).toBe(0.4);
    expect(() => parseThesisReply({ ...(reply as object), risk_score: 'high' })).toThrow(AgentError);
    expect(() => parseThesisReply({ ...(reply as object), confidence: 250 })).toThrow(/confidence/);
    expect(() => extractJson('<think>{"a": 1} and then the output was cut')).toThrow(/no JSON object/);
  });

  it('sends model, max_tokens, seed, a JSON-schema response_format and custom headers to a full completions URL', async () => {
    const srv = await server(() => ({
      status: 200,
      body: completion(
        JSON.stringify({ thesis: 'Trend is up on volume.', side: 'buy', risk_score: 0.5, confidence: 0.8 }),
      ),
    }));
    const s = settingsFor(`${srv.url}/v1/chat/completions`, {
      FINGPT_HEADERS: '{"api-key":"azure-secret-1","X-Tenant":"desk-7"}',
      FINGPT_MAX_TOKENS: 300,
      FINGPT_SEED: 42,
    });
    expect(chatCompletionsUrl(s.FINGPT_ENDPOINT)).toBe(`${srv.url}/v1/chat/completions`);
    const op = await new AgentGateway({ settings: s }).call(thesisClient(s), ctx);
    expect(op.accepted).toBe(true);
    const req = srv.requests[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers['api-key']).toBe('azure-secret-1');
    expect(req.headers['x-tenant']).toBe('desk-7');
    const body = req.body as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'Qwen/Qwen2.5-7B-Instruct', max_tokens: 300, seed: 42 });
    expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'thesis', strict: true } });
    const none = settingsFor(srv.url, { FINGPT_RESPONSE_FORMAT: 'none' });
    await new AgentGateway({ settings: none }).call(thesisClient(none), ctx);
    expect((srv.requests[1]!.body as Record<string, unknown>).response_format).toBeUndefined();
  });

  it('refuses bad FINGPT_HEADERS naming the setting, never the value', () => {
    for (const bad of ['api-key: x', '["x"]', '{"bad name":"x"}', '{"a":"x\\ny"}']) {
      let message = '';
      try {
        thesisClient(settingsFor('http://127.0.0.1:9', { FINGPT_HEADERS: bad }));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^SETTINGS_INVALID: FINGPT_HEADERS/);
      expect(message).not.toContain('x\ny');
    }
  });

  it('a model that will be called needs its name; a 404 names the model, at start and per call', async () => {
    expect(() => buildAgents(parseSettings({ FINGPT_ENDPOINT: 'http://127.0.0.1:9' }))).toThrow(
      /FINGPT_ENDPOINT is set but FINGPT_MODEL is empty/,
    );
    const srv = await server(() => ({
      status: 404,
      body: '{"error":{"message":"The model `fingpt` does not exist."}}',
    }));
    const s = settingsFor(srv.url, { FINGPT_MODEL: 'fingpt' });
    expect(await probeThesisModel(s)).toMatch(/answered 404 for FINGPT_MODEL=fingpt: no such model/);
    const e = (await new AgentGateway({ settings: s })
      .call(thesisClient(s), ctx)
      .catch((x: unknown) => x)) as AgentError;
    expect(e.fault).toBe('model-not-found');
    const ok = await server(() => ({ status: 200, body: completion('{}') }));
    expect(await probeThesisModel(settingsFor(ok.url))).toBeNull();
  });
});
