import http from 'node:http';
import https from 'node:https';
import { AgentError } from '../operators/agents/agent-error.ts';

/** Keep-alive pools: a model call must not pay a TCP (and TLS) handshake every time. */
const pools = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 60_000 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 60_000 }),
};

export const DEFAULT_MAX_REPLY_BYTES = 262_144;

/** Retry-After as milliseconds (delta-seconds or an HTTP date), undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return undefined;
  const seconds = Number(v.trim());
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * POSTs JSON and returns the response text (node:http with keep-alive; measurably cheaper than
 * fetch on loopback). Failures become AgentErrors the gateway can judge: 5xx and transport
 * errors (refused, reset, hang-up before or during the reply) are retryable, 4xx are not, an
 * abort is the gateway's timeout; 429 is retryable and carries Retry-After. A reply is counted
 * as it streams in and refused (`oversized`, the socket destroyed) once it passes
 * `maxReplyBytes`, so it is never buffered whole. Errors name the host only — never the URL's query,
 * credentials or request headers.
 */
export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
  maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
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
        let size = 0;
        const declared = Number(res.headers['content-length']);
        const tooBig = (n: number): void => {
          fail(new AgentError('oversized', `${host} reply exceeds ${maxReplyBytes} bytes (${n} bytes)`, false));
          res.destroy();
          req.destroy();
        };
        if (Number.isFinite(declared) && declared > maxReplyBytes) return tooBig(declared);
        res.on('data', (c: Buffer) => {
          if (settled) return;
          size += c.length;
          if (size > maxReplyBytes) return tooBig(size);
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('aborted', () => fail(new AgentError('transport', `${host}: reply cut off`, true)));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          if (status >= 500) return fail(new AgentError('http-5xx', `${host} answered HTTP ${status}`, true));
          if (status === 429) {
            const wait = retryAfterMs(res.headers['retry-after']);
            return fail(
              new AgentError('http-429', `${host} answered HTTP 429 (rate limited)`, true, { retryAfterMs: wait }),
            );
          }
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
