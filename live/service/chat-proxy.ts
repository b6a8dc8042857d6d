import { z } from 'zod';

/**
 * POST /inference/chat goes to the CONFIGURED model endpoint only: the URL comes from settings,
 * never from the request (a caller-chosen URL would let anyone make the server fetch internal
 * addresses). Upstream failures are reported by status only, never with the upstream body.
 */
export interface ChatProxyOptions {
  /** OpenAI-compatible base URL (FINGPT_ENDPOINT) */
  endpoint: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
}

const UpstreamReply = z.looseObject({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.looseObject({
      index: z.number().optional(),
      message: z.looseObject({ role: z.string(), content: z.string().nullable() }),
      finish_reason: z.string().nullable().optional(),
    }),
  ),
  usage: z.looseObject({}).optional(),
});

/** The OpenAI usage counters: the only `usage` fields passed on (a model can echo anything else, keys included). */
const USAGE_FIELDS = ['prompt_tokens', 'completion_tokens', 'total_tokens'] as const;

function knownUsage(usage: Record<string, unknown> | undefined): Record<string, number> | null {
  if (usage === undefined) return null;
  const out: Record<string, number> = {};
  for (const name of USAGE_FIELDS) {
    const v = usage[name];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) out[name] = v;
  }
  return out;
}

export function chatCompletionsUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

export async function proxyChat(
  opts: ChatProxyOptions,
  body: { messages: { role: string; content: string }[]; max_tokens?: number; temperature?: number },
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(chatCompletionsUrl(opts.endpoint), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: opts.model, ...body }),
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return {
      status: timedOut ? 504 : 502,
      body: {
        error: timedOut ? 'upstream_timeout' : 'upstream_unreachable',
        message: timedOut ? 'the model endpoint did not answer in time' : 'the model endpoint could not be reached',
      },
    };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return {
      status: 502,
      body: { error: 'upstream_error', message: `the model endpoint answered ${response.status}` },
    };
  }
  let parsed: z.infer<typeof UpstreamReply>;
  try {
    parsed = UpstreamReply.parse(await response.json());
  } catch {
    return { status: 502, body: { error: 'upstream_invalid', message: 'the model endpoint sent an unexpected reply' } };
  }
  return {
    status: 200,
    body: {
      model: parsed.model ?? opts.model,
      choices: parsed.choices.map((c, i) => ({
        index: c.index ?? i,
        message: { role: c.message.role, content: c.message.content },
        finish_reason: c.finish_reason ?? null,
      })),
      usage: knownUsage(parsed.usage),
    },
  };
}
