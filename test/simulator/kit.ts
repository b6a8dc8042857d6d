import { createHmac } from 'node:crypto';
import { privateKeyToAccount } from 'viem/accounts';
import WebSocket from 'ws';

/** Raw client helpers for the simulator tests: they speak the wire protocol directly. */

// documented V1 vector (Binance/Aster docs) and the documented V3 demo key (aster-api.md §1.2.1, §1.3.1)
export const V1_KEY = 'dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83';
export const V1_SECRET = '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9';
export const V3_PRIVATE_KEY = '0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1';
export const V3_SIGNER = '0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0';
export const V3_USER = '0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function raw(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function encode(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&');
}

/** V1 signed request; params in the query for GET/DELETE, in the body for POST/PUT. */
export async function v1(
  base: string,
  method: string,
  path: string,
  params: Record<string, string | number | boolean>,
  opts: { key?: string; secret?: string; timestamp?: number; tamper?: boolean } = {},
): Promise<RawResponse> {
  const all = encode({ ...params, timestamp: opts.timestamp ?? Date.now() });
  let sig = createHmac('sha256', opts.secret ?? V1_SECRET)
    .update(all)
    .digest('hex');
  if (opts.tamper) sig = (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1);
  const signed = `${all}&signature=${sig}`;
  const headers: Record<string, string> = { 'X-MBX-APIKEY': opts.key ?? V1_KEY };
  if (method === 'GET' || method === 'DELETE') return raw(`${base}${path}?${signed}`, { method, headers });
  headers['Content-Type'] = 'application/x-www-form-urlencoded';
  return raw(`${base}${path}`, { method, headers, body: signed });
}

const account = privateKeyToAccount(V3_PRIVATE_KEY);
let lastNonce = 0;

export function nextNonce(): number {
  lastNonce = Math.max(Date.now() * 1000, lastNonce + 1);
  return lastNonce;
}

export async function v3Sign(msg: string, chainId = 1666): Promise<string> {
  return account.signTypedData({
    domain: {
      name: 'AsterSignTransaction',
      version: '1',
      chainId,
      verifyingContract: '0x0000000000000000000000000000000000000000',
    },
    types: { Message: [{ name: 'msg', type: 'string' }] },
    primaryType: 'Message',
    message: { msg },
  });
}

/** V3 signed request (EIP-712). */
export async function v3(
  base: string,
  method: string,
  path: string,
  params: Record<string, string | number | boolean>,
  opts: { nonce?: number; tamper?: boolean } = {},
): Promise<RawResponse> {
  const msg = encode({ ...params, nonce: opts.nonce ?? nextNonce(), user: V3_USER, signer: V3_SIGNER });
  let sig = await v3Sign(msg);
  if (opts.tamper) sig = sig.slice(0, 10) + (sig[10] === 'a' ? 'b' : 'a') + sig.slice(11);
  const signed = `${msg}&signature=${sig}`;
  if (method === 'GET' || method === 'DELETE') return raw(`${base}${path}?${signed}`, { method });
  return raw(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: signed,
  });
}

/** A WebSocket that records its frames; `next(pred)` waits (bounded) for a matching one. */
export class Recorder {
  readonly frames: unknown[] = [];
  readonly pings: number[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.frames.push(JSON.parse(String(d)) as unknown);
      this.wake();
    });
    ws.on('ping', () => {
      this.pings.push(1);
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
    ws.on('error', () => undefined);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a WebSocket frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async next<T = Record<string, unknown>>(pred: (f: T) => boolean, timeoutMs = 5000): Promise<T> {
    let found: T | undefined;
    await this.until(() => {
      found = (this.frames as T[]).find(pred);
      return found !== undefined;
    }, timeoutMs);
    return found!;
  }
  close(): void {
    this.ws.close();
  }
}

export async function connect(url: string): Promise<Recorder> {
  const ws = new WebSocket(url);
  const rec = new Recorder(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return rec;
}

/** Polls `check` (bounded in count) until it is true. */
export async function eventually(check: () => boolean | Promise<boolean>, tries = 100, everyMs = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not reached');
}
