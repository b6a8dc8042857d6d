import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { judgeForecast } from '../operators/agents/replies.ts';
import { forecastFromReply, LagLlamaReply, QUANTILE_LEVELS } from './lagllama-contract.ts';
import type { RemoteAgent } from './gateway.ts';
import { parseJsonText, postJson, safeHost } from './http.ts';

export const REMOTE_FORECAST = 'lagllama';

/**
 * A Lag-Llama / GluonTS-style forecast agent over HTTP. Request: POST LAGLLAMA_ENDPOINT with
 * `{symbol, time, closes (oldest first, last = decision bar; AGENT_CONTEXT_BARS of them — Lag-Llama's
 * largest lag needs more than a day of 5 m bars, so raise it for that model), horizon,
 * prediction_length (= horizon), freq (pandas alias of BAR_INTERVAL, e.g. "5min"), context_length,
 * quantile_levels}`. Reply: sample paths or quantile paths (see lagllama-contract.ts); the platform
 * derives the median, the 90 % band, confidence and anomaly from them and judges: ci_span ≤
 * LAGLLAMA_MAX_CI_SPAN, first point within 50 % of price, anomaly above ANOMALY_THRESHOLD blocks.
 */
export const FORECAST_CONTRACT_VERSION = 3;

/** BAR_INTERVAL (5m, 1h, 1d) as the pandas frequency alias GluonTS expects. */
export function pandasFreq(interval: string): string {
  const m = /^(\d+)([mhd])$/.exec(interval);
  if (!m) return interval;
  return `${m[1]}${m[2] === 'm' ? 'min' : m[2] === 'h' ? 'h' : 'D'}`;
}

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
  > & { BAR_INTERVAL?: string },
  name = REMOTE_FORECAST,
): RemoteAgent<LagLlamaReply> {
  if (s.LAGLLAMA_ENDPOINT === '') throw new AgentError('not-configured', 'LAGLLAMA_ENDPOINT is empty');
  const headers: Record<string, string> = s.LAGLLAMA_API_KEY ? { authorization: `Bearer ${s.LAGLLAMA_API_KEY}` } : {};
  const freq = pandasFreq(s.BAR_INTERVAL ?? '5m');
  return {
    name,
    identity: {
      kind: 'forecast',
      endpoint: safeHost(s.LAGLLAMA_ENDPOINT),
      contract: FORECAST_CONTRACT_VERSION,
      context: s.AGENT_CONTEXT_BARS,
      horizon: s.LAGLLAMA_HORIZON,
      freq,
    },
    async call(ctx: AgentContext, signal: AbortSignal): Promise<LagLlamaReply> {
      const body = {
        symbol: ctx.symbol,
        time: ctx.time,
        closes: ctx.closes,
        horizon: s.LAGLLAMA_HORIZON,
        prediction_length: s.LAGLLAMA_HORIZON,
        freq,
        context_length: ctx.closes.length,
        quantile_levels: QUANTILE_LEVELS,
      };
      const text = await postJson(s.LAGLLAMA_ENDPOINT, body, headers, signal, s.AGENT_MAX_REPLY_BYTES);
      return parseLagLlamaReply(parseJsonText(text, 'forecast reply'));
    },
    parse: parseLagLlamaReply,
    judge: (reply, ctx) => judgeForecast(name, forecastFromReply(reply, ctx), ctx.price, s),
  };
}

function parseLagLlamaReply(value: unknown): LagLlamaReply {
  const r = LagLlamaReply.safeParse(value);
  if (r.success) return r.data;
  throw new AgentError(
    'invalid-reply',
    'forecast reply rejected: expected {samples: number[][]}, {quantiles: {level: number[]}} or {forecast, lower_ci, upper_ci}',
  );
}
