import http from 'node:http';
import https from 'node:https';
import { AgentError } from '../operators/agents/agent-error.ts';

/** Keep-alive pools: a model call must not pay a TCP (and TLS) handshake every time. */
const pools = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 60_000 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 60_000 }),
};

/**
 * POSTs JSON and returns the response text (node:http with keep-alive; measurably cheaper than
 * fetch on loopback). Failures become AgentErrors the gateway can judge: 5xx and transport
 * errors (refused, reset, hang-up before or during the reply) are retryable, 4xx are not, an
 * abort is the gateway's timeout. Errors name the host only — never the URL's query,
 * credentials or request headers.
 */
export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new AgentError('not-configured', 'the agent endpoint is not a valid URL'));
      return;
    }
    const host = target.host;
    const secure = target.protocol === 'https:';
    const payload = JSON.stringify(body);
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      if (error instanceof AgentError) return reject(error);
      if (signal.aborted) {
        const reason: unknown = signal.reason;
        return reject(reason instanceof AgentError ? reason : new AgentError('timeout', `${host} call aborted`, true));
      }
      const code = (error as { code?: string }).code;
      reject(
        new AgentError('transport', `${host}: ${code ?? (error instanceof Error ? error.message : 'error')}`, true),
      );
    };
    const req = (secure ? https : http).request(
      target,
      {
        method: 'POST',
        agent: secure ? pools.https : pools.http,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...headers,
        },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('aborted', () => fail(new AgentError('transport', `${host}: reply cut off`, true)));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          if (status >= 500) return fail(new AgentError('http-5xx', `${host} answered HTTP ${status}`, true));
          if (status >= 400) return fail(new AgentError('http-4xx', `${host} answered HTTP ${status}`, false));
          settled = true;
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('error', fail);
    req.end(payload);
  });
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
