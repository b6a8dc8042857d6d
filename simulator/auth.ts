import { createHmac, timingSafeEqual } from 'node:crypto';
import { recoverTypedDataAddress, type Hex } from 'viem';

/**
 * Request authentication as Aster does it.
 * - V1: HMAC-SHA256 (hex) with the secret over the raw query string + raw body as received, each
 *   without its `signature=` parameter (no re-encoding, no sorting), key in `X-MBX-APIKEY`,
 *   `timestamp` inside `recvWindow` (default 5000, max 60000) and at most 1000 ms ahead.
 * - V3: EIP-712 typed data {domain AsterSignTransaction v1, chainId, zero contract; Message{msg:string}}
 *   over the raw parameter string (the URL's if it carries the signature, else the body's) without
 *   `&signature=…`; the recovered address must be a registered `signer`; `nonce` (µs) within 10 s of
 *   server time, never reused, and above the lowest of the last 100 once 100 are kept.
 */

export interface V1Credential {
  apiKey: string;
  secretKey: string;
  /** account the key trades for (default: the api key) */
  account?: string;
}
export interface V3Credential {
  user: string;
  signer: string;
  /** account the signer trades for (default: the user address, lower case) */
  account?: string;
}

export interface AuthError {
  ok: false;
  status: number;
  code: number;
  msg: string;
}
export type AuthResult = { ok: true; account: string } | AuthError;
/** V3: the account and the parameters the signature covers (the only ones the request may use) */
export type V3AuthResult = { ok: true; account: string; signed: URLSearchParams } | AuthError;

const fail = (status: number, code: number, msg: string): AuthError => ({ ok: false, status, code, msg });

/** Removes the `signature=…` parameter from a raw parameter string, keeping everything else byte for byte. */
export function stripSignature(raw: string): { rest: string; signature: string | undefined; last: boolean } {
  if (raw === '') return { rest: '', signature: undefined, last: true };
  const parts = raw.split('&');
  let signature: string | undefined;
  const kept: string[] = [];
  // the exchange reads the signature as the string's last parameter; anything after it is unsigned
  const last = !parts.slice(0, -1).some((p) => p.startsWith('signature='));
  for (const p of parts) {
    if (p.startsWith('signature=')) {
      try {
        signature = decodeURIComponent(p.slice(10));
      } catch {
        signature = p.slice(10);
      }
    } else kept.push(p);
  }
  return { rest: kept.join('&'), signature, last };
}

const NOT_LAST = fail(400, -1022, "Signature for this request is not valid: 'signature' must be the last parameter.");

export function hmacHex(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

export class V1Auth {
  private readonly byKey = new Map<string, V1Credential>();
  constructor(creds: readonly V1Credential[]) {
    for (const c of creds) this.byKey.set(c.apiKey, c);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** USER_STREAM / MARKET_DATA: a known key is enough. */
  keyOnly(apiKey: string | undefined): AuthResult {
    if (!apiKey) return fail(401, -2014, 'API-key format invalid.');
    const c = this.byKey.get(apiKey);
    if (!c) return fail(401, -2015, 'Invalid API-key, IP, or permissions for action.');
    return { ok: true, account: c.account ?? c.apiKey };
  }

  signed(
    apiKey: string | undefined,
    rawQuery: string,
    rawBody: string,
    params: URLSearchParams,
    serverTime: number,
  ): AuthResult {
    const key = this.keyOnly(apiKey);
    if (!key.ok) return key;
    const cred = this.byKey.get(apiKey!)!;
    const q = stripSignature(rawQuery);
    const b = stripSignature(rawBody);
    const signature = q.signature ?? b.signature;
    if (!signature)
      return fail(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
    if (!(q.signature !== undefined ? q.last && b.signature === undefined : b.last)) return NOT_LAST;
    const tsRaw = params.get('timestamp');
    if (!tsRaw || !/^\d+$/.test(tsRaw))
      return fail(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    const rwRaw = params.get('recvWindow');
    const recvWindow = rwRaw === null ? 5000 : Number(rwRaw);
    if (!Number.isFinite(recvWindow) || recvWindow <= 0 || recvWindow > 60_000)
      return fail(400, -1131, 'recvWindow must be less than 60000');
    const expected = hmacHex(cred.secretKey, q.rest + b.rest);
    const given = signature.toLowerCase();
    if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given, 'utf8'), Buffer.from(expected, 'utf8')))
      return fail(400, -1022, 'Signature for this request is not valid.');
    const ts = Number(tsRaw);
    if (ts >= serverTime + 1000)
      return fail(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.");
    if (serverTime - ts > recvWindow)
      return fail(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
    return key;
  }
}

export class V3Auth {
  private readonly bySigner = new Map<string, V3Credential>();
  private readonly nonces = new Map<string, number[]>();
  constructor(
    creds: readonly V3Credential[],
    private readonly chainId: number,
  ) {
    for (const c of creds) this.bySigner.set(c.signer.toLowerCase(), c);
  }

  get size(): number {
    return this.bySigner.size;
  }

  /**
   * Verifies a V3 request. Only the string that carries the signature is signed, so only its
   * parameters count: the caller must use `signed`, never the other string's (an unsigned query
   * must not turn a signed "BUY 0.01" into "SELL 0.5").
   */
  async signed(rawQuery: string, rawBody: string, serverTimeMs: number): Promise<V3AuthResult> {
    const q = stripSignature(rawQuery);
    const b = stripSignature(rawBody);
    const fromQuery = q.signature !== undefined;
    const signature = q.signature ?? b.signature;
    const message = fromQuery ? q.rest : b.rest;
    if (!signature)
      return fail(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
    if (!(fromQuery ? q.last : b.last)) return NOT_LAST;
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(message);
    } catch {
      return fail(400, -1100, 'Illegal characters found in a parameter.');
    }
    const signer = params.get('signer');
    const nonceRaw = params.get('nonce');
    if (!signer) return fail(400, -1102, "Mandatory parameter 'signer' was not sent, was empty/null, or malformed.");
    if (!nonceRaw || !/^\d+$/.test(nonceRaw))
      return fail(400, -1102, "Mandatory parameter 'nonce' was not sent, was empty/null, or malformed.");
    const cred = this.bySigner.get(signer.toLowerCase());
    if (!cred) return fail(401, -2015, 'Invalid API-key, IP, or permissions for action.');
    const user = params.get('user');
    if (user !== null && user.toLowerCase() !== cred.user.toLowerCase())
      return fail(401, -2015, 'Invalid API-key, IP, or permissions for action.');
    if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return fail(400, -1022, 'Signature for this request is not valid.');
    let recovered: string;
    try {
      recovered = await recoverTypedDataAddress({
        domain: {
          name: 'AsterSignTransaction',
          version: '1',
          chainId: this.chainId,
          verifyingContract: '0x0000000000000000000000000000000000000000',
        },
        types: { Message: [{ name: 'msg', type: 'string' }] },
        primaryType: 'Message',
        message: { msg: message },
        signature: signature as Hex,
      });
    } catch {
      return fail(400, -1022, 'Signature for this request is not valid.');
    }
    if (recovered.toLowerCase() !== cred.signer.toLowerCase())
      return fail(400, -1022, 'Signature for this request is not valid.');
    // nonce: µs, within 10 s of server time, unique among the last 100, above their minimum when full
    const nonce = Number(nonceRaw);
    if (Math.abs(nonce / 1000 - serverTimeMs) > 10_000) return fail(400, -4225, 'Nonce Expired');
    const key = cred.signer.toLowerCase();
    const seen = this.nonces.get(key) ?? [];
    if (seen.includes(nonce)) return fail(400, -4225, 'Nonce Expired');
    if (seen.length >= 100) {
      let minIdx = 0;
      for (let i = 1; i < seen.length; i++) if (seen[i]! < seen[minIdx]!) minIdx = i;
      if (nonce < seen[minIdx]!) return fail(400, -4225, 'Nonce Expired');
      seen.splice(minIdx, 1);
    }
    seen.push(nonce);
    this.nonces.set(key, seen);
    return { ok: true, account: cred.account ?? cred.user.toLowerCase(), signed: params };
  }
}
