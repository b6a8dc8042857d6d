import { AgentError } from '../operators/agents/agent-error.ts';

/**
 * POSTs JSON and returns the response text. Failures become AgentErrors the gateway can judge:
 * 5xx and transport errors (refused, reset, hang-up before or during the reply) are retryable,
 * 4xx are not, an abort is the gateway's timeout. Errors name the host only — never the URL's
 * query, credentials or request headers.
 */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const host = safeHost(url);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    if (res.status >= 500) throw new AgentError('http-5xx', `${host} answered HTTP ${res.status}`, true);
    if (res.status >= 400) throw new AgentError('http-4xx', `${host} answered HTTP ${res.status}`, false);
    return text;
  } catch (error) {
    if (error instanceof AgentError) throw error;
    if (signal.aborted) {
      const reason: unknown = signal.reason;
      throw reason instanceof AgentError ? reason : new AgentError('timeout', `${host} call aborted`, true);
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    throw new AgentError('transport', `${host}: ${why}`, true);
  }
}

export function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}

export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AgentError('invalid-reply', `${what} is not JSON (${text.length} chars)`);
  }
}
