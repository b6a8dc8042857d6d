import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

export interface SeenRequest {
  n: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** What the scripted server does with request number n (1-based). */
export type Behaviour =
  | { status: number; body: string; delayMs?: number; headers?: Record<string, string> }
  /** never answer (the client must time out) */
  | { hang: true }
  /** close the socket without an answer */
  | { hangup: true };

export interface ModelServer {
  url: string;
  requests: SeenRequest[];
  inFlight: number;
  maxInFlight: number;
  /** answers every held request (see `hold`) */
  release(): void;
  close(): Promise<void>;
}

/**
 * A real loopback HTTP server on 127.0.0.1:0 whose replies are scripted per request, recording
 * every request and the number of requests in flight at once.
 */
export async function startModelServer(script: (req: SeenRequest) => Behaviour): Promise<ModelServer> {
  const sockets = new Set<Socket>();
  const waiters: (() => void)[] = [];
  const state: ModelServer = {
    url: '',
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    release: () => {
      for (const w of waiters.splice(0)) w();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      const seen: SeenRequest = { n: state.requests.length + 1, path: req.url ?? '', headers: req.headers, body };
      state.requests.push(seen);
      const b = script(seen);
      if ('hang' in b) return;
      if ('hangup' in b) {
        req.socket.destroy();
        return;
      }
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const answer = (): void => {
        state.inFlight--;
        res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
        res.end(b.body);
      };
      if (b.delayMs === undefined) answer();
      else if (b.delayMs < 0) waiters.push(answer);
      else setTimeout(answer, b.delayMs);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  state.url = `http://127.0.0.1:${addr.port}`;
  return state;
}

/** An OpenAI chat-completions body whose message content is `content`. */
export function completion(content: string): string {
  return JSON.stringify({
    id: 'cmpl-test',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });
}
