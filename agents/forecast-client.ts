import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { judgeForecast, parseForecastReply, type ForecastReply } from '../operators/agents/replies.ts';
import type { RemoteAgent } from './gateway.ts';
import { parseJsonText, postJson, safeHost } from './http.ts';

export const REMOTE_FORECAST = 'lagllama';

/**
 * A Lag-Llama-style forecast agent over HTTP. Request: POST LAGLLAMA_ENDPOINT with
 * `{symbol, time, closes (oldest first, last = decision bar), horizon}`; reply
 * `{forecast[], lower_ci[], upper_ci[], anomaly_score, confidence}` (validated, then judged:
 * ci_span ≤ LAGLLAMA_MAX_CI_SPAN, first forecast within 50 % of price, anomaly blocks entries).
 */
export const FORECAST_CONTRACT_VERSION = 2;

export function forecastClient(
  s: Pick<
    AgentSettings,
    | 'LAGLLAMA_ENDPOINT'
    | 'LAGLLAMA_API_KEY'
    | 'LAGLLAMA_HORIZON'
    | 'LAGLLAMA_MAX_CI_SPAN'
    | 'ANOMALY_THRESHOLD'
    | 'AGENT_MAX_REPLY_BYTES'
    | 'AGENT_CONTEXT_BARS'
  >,
  name = REMOTE_FORECAST,
): RemoteAgent<ForecastReply> {
  if (s.LAGLLAMA_ENDPOINT === '') throw new AgentError('not-configured', 'LAGLLAMA_ENDPOINT is empty');
  const headers: Record<string, string> = s.LAGLLAMA_API_KEY ? { authorization: `Bearer ${s.LAGLLAMA_API_KEY}` } : {};
  return {
    name,
    identity: {
      kind: 'forecast',
      endpoint: safeHost(s.LAGLLAMA_ENDPOINT),
      contract: FORECAST_CONTRACT_VERSION,
      context: s.AGENT_CONTEXT_BARS,
      horizon: s.LAGLLAMA_HORIZON,
    },
    async call(ctx: AgentContext, signal: AbortSignal): Promise<ForecastReply> {
      const body = { symbol: ctx.symbol, time: ctx.time, closes: ctx.closes, horizon: s.LAGLLAMA_HORIZON };
      const text = await postJson(s.LAGLLAMA_ENDPOINT, body, headers, signal, s.AGENT_MAX_REPLY_BYTES);
      return parseForecastReply(parseJsonText(text, 'forecast reply'));
    },
    parse: parseForecastReply,
    judge: (reply, ctx) => judgeForecast(name, reply, ctx.price, s),
  };
}
