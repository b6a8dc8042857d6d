import type { AgentOpinion } from '../pipelines/model/index.ts';
import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { judgeForecast, parseForecastReply } from '../operators/agents/replies.ts';
import type { RemoteAgent } from './gateway.ts';
import { parseJsonText, postJson } from './http.ts';

export const REMOTE_FORECAST = 'lagllama';

/**
 * A Lag-Llama-style forecast agent over HTTP. Request: POST LAGLLAMA_ENDPOINT with
 * `{symbol, time, closes (oldest first, last = decision bar), horizon}`; reply
 * `{forecast[], lower_ci[], upper_ci[], anomaly_score, confidence}` (validated, then judged:
 * ci_span ≤ LAGLLAMA_MAX_CI_SPAN, first forecast within 50 % of price, anomaly blocks entries).
 */
export function forecastClient(
  s: Pick<
    AgentSettings,
    'LAGLLAMA_ENDPOINT' | 'LAGLLAMA_API_KEY' | 'LAGLLAMA_HORIZON' | 'LAGLLAMA_MAX_CI_SPAN' | 'ANOMALY_THRESHOLD'
  >,
  name = REMOTE_FORECAST,
): RemoteAgent {
  if (s.LAGLLAMA_ENDPOINT === '') throw new AgentError('not-configured', 'LAGLLAMA_ENDPOINT is empty');
  const headers: Record<string, string> = s.LAGLLAMA_API_KEY ? { authorization: `Bearer ${s.LAGLLAMA_API_KEY}` } : {};
  return {
    name,
    async call(ctx: AgentContext, signal: AbortSignal): Promise<AgentOpinion> {
      const body = { symbol: ctx.symbol, time: ctx.time, closes: ctx.closes, horizon: s.LAGLLAMA_HORIZON };
      const text = await postJson(s.LAGLLAMA_ENDPOINT, body, headers, signal);
      const reply = parseForecastReply(parseJsonText(text, 'forecast reply'));
      return judgeForecast(name, reply, ctx.price, s);
    },
  };
}
