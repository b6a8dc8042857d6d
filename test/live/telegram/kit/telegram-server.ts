import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Telegram-Bot-API-compatible server on 127.0.0.1: records sendMessage calls, serves queued
 * updates to getUpdates honouring `offset` (long-poll held at most `holdMs` when empty), can fail
 * or hold sends. Requests for any other token get 401 like the real API.
 */
export interface SentMessage {
  readonly chat_id: string;
  readonly text: string;
}

export interface TelegramServer {
  readonly url: string;
  readonly sent: SentMessage[];
  /** offsets asked for by getUpdates, in order */
  readonly offsets: number[];
  readonly paths: string[];
  pushUpdate(chatId: number, text: string): number;
  /** the next n sendMessage calls answer this HTTP status (429 with retry_after = retryAfter) */
  failSends(n: number, status: number, retryAfter?: number): void;
  /** sendMessage answers wait until release() */
  holdSends(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startTelegramServer(token: string, holdMs = 100): Promise<TelegramServer> {
  const sent: SentMessage[] = [];
  const offsets: number[] = [];
  const paths: string[] = [];
  const updates: { update_id: number; message: { message_id: number; chat: { id: number }; text: string } }[] = [];
  let nextUpdate = 500;
  let failing = 0;
  let failStatus = 500;
  let retryAfter = 1;
  let holding = false;
  const held: (() => void)[] = [];
  const open = new Set<ServerResponse>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    open.delete(res);
    if (res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    open.add(res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      paths.push(url.pathname);
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
      if (!m || m[1] !== token) return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      const method = m[2];
      if (method === 'sendMessage') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
          chat_id?: unknown;
          text?: unknown;
        };
        const answer = () => {
          if (failing > 0) {
            failing--;
            if (failStatus === 429) {
              return json(res, 429, {
                ok: false,
                error_code: 429,
                description: `Too Many Requests: retry after ${retryAfter}`,
                parameters: { retry_after: retryAfter },
              });
            }
            return json(res, failStatus, { ok: false, error_code: failStatus, description: 'Internal Server Error' });
          }
          sent.push({ chat_id: String(body.chat_id), text: String(body.text) });
          json(res, 200, { ok: true, result: { message_id: sent.length, text: body.text } });
        };
        if (holding) held.push(answer);
        else answer();
        return;
      }
      if (method === 'getUpdates') {
        const offset = Number(url.searchParams.get('offset') ?? 0);
        offsets.push(offset);
        const serve = () => json(res, 200, { ok: true, result: updates.filter((u) => u.update_id >= offset) });
        if (updates.some((u) => u.update_id >= offset)) serve();
        else setTimeout(serve, holdMs);
        return;
      }
      json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    offsets,
    paths,
    pushUpdate(chatId, text) {
      const id = nextUpdate++;
      updates.push({ update_id: id, message: { message_id: id, chat: { id: chatId }, text } });
      return id;
    },
    failSends(n, status, after = 1) {
      failing = n;
      failStatus = status;
      retryAfter = after;
    },
    holdSends() {
      holding = true;
    },
    release() {
      holding = false;
      for (const h of held.splice(0)) h();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
