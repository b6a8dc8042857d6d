import { z } from 'zod';
import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { extractJson, judgeThesis, parseThesisReply, type ThesisReply } from '../operators/agents/replies.ts';
import type { RemoteAgent } from './gateway.ts';
import { parseJsonText, postJson, safeHost } from './http.ts';

export const REMOTE_THESIS = 'fingpt';

const ChatCompletion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string() }) })).min(1, 'no choices in the completion'),
});

/** `${base}/v1/chat/completions`, accepting a base that already ends in /v1. */
export function chatCompletionsUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
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
    `A momentum model proposes going ${proposal}. Do you agree? Give your thesis as JSON.`,
  ].join('\n');
}

/** Bumped whenever the prompt or the reply contract changes: a tape records which one it holds. */
export const THESIS_PROMPT_VERSION = 2;

/**
 * A FinGPT-style thesis agent over any OpenAI-compatible chat-completions endpoint. A call
 * returns the validated thesis reply; judging (the risk floor) happens in `judge`, also at
 * replay. The API key travels only in the Authorization header; errors and summaries never
 * contain it.
 */
export function thesisClient(
  s: Pick<
    AgentSettings,
    'FINGPT_ENDPOINT' | 'FINGPT_API_KEY' | 'FINGPT_MODEL' | 'FINGPT_MIN_RISK_SCORE' | 'AGENT_MAX_REPLY_BYTES'
  >,
  name = REMOTE_THESIS,
): RemoteAgent<ThesisReply> {
  if (s.FINGPT_ENDPOINT === '') throw new AgentError('not-configured', 'FINGPT_ENDPOINT is empty');
  const url = chatCompletionsUrl(s.FINGPT_ENDPOINT);
  const headers: Record<string, string> = s.FINGPT_API_KEY ? { authorization: `Bearer ${s.FINGPT_API_KEY}` } : {};
  return {
    name,
    identity: { kind: 'thesis', model: s.FINGPT_MODEL, endpoint: safeHost(url), prompt: THESIS_PROMPT_VERSION },
    async call(ctx: AgentContext, signal: AbortSignal): Promise<ThesisReply> {
      const body = {
        model: s.FINGPT_MODEL,
        temperature: 0,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: thesisPrompt(ctx) },
        ],
      };
      const text = await postJson(url, body, headers, signal, s.AGENT_MAX_REPLY_BYTES);
      const completion = ChatCompletion.safeParse(parseJsonText(text, 'chat completion'));
      if (!completion.success) throw new AgentError('invalid-reply', 'not a chat completion');
      const content = completion.data.choices[0]!.message.content;
      return parseThesisReply(extractJson(content));
    },
    parse: parseThesisReply,
    judge: (reply) => judgeThesis(name, reply, s.FINGPT_MIN_RISK_SCORE),
  };
}
