import { z } from 'zod';
import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import { SapphireError } from '../pipelines/errors.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { extractJson, judgeThesis, parseThesisReply, type ThesisReply } from '../operators/agents/replies.ts';
import type { RemoteAgent } from './gateway.ts';
import { parseJsonText, postJson, safeHost } from './http.ts';

export const REMOTE_THESIS = 'fingpt';

const ChatCompletion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string() }) })).min(1, 'no choices in the completion'),
});

/** `${base}/v1/chat/completions`, accepting a base that ends in /v1 or the full completions URL. */
export function chatCompletionsUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  if (base.endsWith('/chat/completions')) return base;
  return base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

/** FINGPT_HEADERS as a header map; a clear error naming the setting otherwise (never its value). */
export function extraHeaders(text: string): Record<string, string> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SapphireError('SETTINGS_INVALID', 'FINGPT_HEADERS is not JSON: expected an object like {"api-key":"…"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SapphireError('SETTINGS_INVALID', 'FINGPT_HEADERS must be a JSON object of header names to values');
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name) || typeof value !== 'string' || /[\r\n]/.test(value)) {
      throw new SapphireError(
        'SETTINGS_INVALID',
        `FINGPT_HEADERS: header ${JSON.stringify(name.slice(0, 40))} needs a token name and a one-line string value`,
      );
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}

/** The reply contract as a JSON schema (response_format), the same shape ThesisReply validates. */
const THESIS_SCHEMA = {
  type: 'object',
  properties: {
    thesis: { type: 'string' },
    side: { type: 'string', enum: ['buy', 'sell', 'hold'] },
    risk_score: { type: 'number', minimum: 0, maximum: 1 },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
  required: ['thesis', 'side', 'risk_score', 'confidence'],
  additionalProperties: false,
} as const;

function responseFormat(kind: AgentSettings['FINGPT_RESPONSE_FORMAT']): object | undefined {
  if (kind === 'json_schema') {
    return { type: 'json_schema', json_schema: { name: 'thesis', strict: true, schema: THESIS_SCHEMA } };
  }
  return kind === 'json_object' ? { type: 'json_object' } : undefined;
}

const SYSTEM_PROMPT =
  'You are a crypto perpetual-futures analyst. Reply with one JSON object and nothing else: ' +
  '{"thesis": string (at least one full sentence), "side": "buy" | "sell" | "hold", ' +
  '"risk_score": number 0..1 (higher = riskier), "confidence": number 0..1}.';

const fmt = (x: number, digits = 10): string => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : 'n/a');

/** The user prompt: only what the context holds (data up to the decision bar). */
export function thesisPrompt(ctx: AgentContext): string {
  const recent = ctx.closes.slice(-24).map((c) => fmt(c));
  const proposal = ctx.proposedDirection > 0 ? 'long' : ctx.proposedDirection < 0 ? 'short' : 'flat';
  return [
    `Symbol: ${ctx.symbol}`,
    `Bar close time (UTC): ${new Date(ctx.time).toISOString()}`,
    `Price: ${fmt(ctx.price)}`,
    `24h change: ${fmt(ctx.change24h * 100, 4)}%`,
    `Bar volume: ${fmt(ctx.volume)}`,
    `ATR: ${fmt(ctx.atr)}`,
    `Annualised volatility: ${fmt(ctx.volatility * 100, 4)}%`,
    `Position held: ${fmt(ctx.position)}`,
    `Recent closes, oldest first: ${recent.join(', ')}`,
    `The ${ctx.strategy} strategy proposes going ${proposal}. Do you agree? Give your thesis as JSON.`,
  ].join('\n');
}

/** A 404 from a completions endpoint almost always means the model name is wrong: say which. */
function modelNotFound(error: unknown, model: string, url: string): AgentError | null {
  if (!(error instanceof AgentError) || error.fault !== 'http-4xx' || !/HTTP 404\b/.test(error.message)) return null;
  return new AgentError(
    'model-not-found',
    `${safeHost(url)} answered 404 for FINGPT_MODEL=${model}: no such model there (or the URL is not a completions endpoint)`,
  );
}

/**
 * The start-up probe: one tiny completion (max_tokens 1) so a wrong model name or URL shows at
 * start, not at the first signal hours later. Resolves to the problem in words, or null when the
 * model answered. Never throws; never includes credentials.
 */
export async function probeThesisModel(s: ThesisClientSettings, timeoutMs = 10_000): Promise<string | null> {
  if (s.FINGPT_ENDPOINT === '') return null;
  if (s.FINGPT_MODEL === '') return 'FINGPT_MODEL is empty';
  const url = chatCompletionsUrl(s.FINGPT_ENDPOINT);
  const headers = {
    ...extraHeaders(s.FINGPT_HEADERS),
    ...(s.FINGPT_API_KEY ? { authorization: `Bearer ${s.FINGPT_API_KEY}` } : {}),
  };
  const body = { model: s.FINGPT_MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] };
  try {
    await postJson(url, body, headers, AbortSignal.timeout(timeoutMs), s.AGENT_MAX_REPLY_BYTES);
    return null;
  } catch (error) {
    const named = modelNotFound(error, s.FINGPT_MODEL, url);
    return `agent probe: ${(named ?? (error as Error)).message}`;
  }
}

/** Bumped whenever the prompt or the reply contract changes: a tape records which one it holds. */
export const THESIS_PROMPT_VERSION = 3;

export type ThesisClientSettings = Pick<
  AgentSettings,
  | 'FINGPT_ENDPOINT'
  | 'FINGPT_API_KEY'
  | 'FINGPT_HEADERS'
  | 'FINGPT_MODEL'
  | 'FINGPT_MAX_TOKENS'
  | 'FINGPT_SEED'
  | 'FINGPT_RESPONSE_FORMAT'
  | 'FINGPT_MIN_RISK_SCORE'
  | 'AGENT_MAX_REPLY_BYTES'
>;

/**
 * A FinGPT-style thesis agent over any OpenAI-compatible chat-completions endpoint. A call
 * returns the validated thesis reply; judging (the risk floor) happens in `judge`, also at
 * replay. The API key travels only in the Authorization header; errors and summaries never
 * contain it.
 */
export function thesisClient(s: ThesisClientSettings, name = REMOTE_THESIS): RemoteAgent<ThesisReply> {
  if (s.FINGPT_ENDPOINT === '') throw new AgentError('not-configured', 'FINGPT_ENDPOINT is empty');
  const url = chatCompletionsUrl(s.FINGPT_ENDPOINT);
  const headers: Record<string, string> = {
    ...extraHeaders(s.FINGPT_HEADERS),
    ...(s.FINGPT_API_KEY ? { authorization: `Bearer ${s.FINGPT_API_KEY}` } : {}),
  };
  const format = responseFormat(s.FINGPT_RESPONSE_FORMAT);
  return {
    name,
    identity: {
      kind: 'thesis',
      model: s.FINGPT_MODEL,
      endpoint: safeHost(url),
      prompt: THESIS_PROMPT_VERSION,
      format: s.FINGPT_RESPONSE_FORMAT,
    },
    async call(ctx: AgentContext, signal: AbortSignal): Promise<ThesisReply> {
      if (s.FINGPT_MODEL === '') throw new AgentError('not-configured', 'FINGPT_MODEL is empty');
      const body = {
        model: s.FINGPT_MODEL,
        temperature: 0,
        max_tokens: s.FINGPT_MAX_TOKENS,
        seed: s.FINGPT_SEED,
        ...(format ? { response_format: format } : {}),
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: thesisPrompt(ctx) },
        ],
      };
      const text = await postJson(url, body, headers, signal, s.AGENT_MAX_REPLY_BYTES).catch((error: unknown) => {
        throw modelNotFound(error, s.FINGPT_MODEL, url) ?? error;
      });
      const completion = ChatCompletion.safeParse(parseJsonText(text, 'chat completion'));
      if (!completion.success) throw new AgentError('invalid-reply', 'not a chat completion');
      const content = completion.data.choices[0]!.message.content;
      return parseThesisReply(extractJson(content));
    },
    parse: parseThesisReply,
    judge: (reply) => judgeThesis(name, reply, s.FINGPT_MIN_RISK_SCORE),
  };
}
