import { createHmac } from 'node:crypto';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { redactText } from '../../secrets/redact.ts';

/**
 * Aster request signing. Both schemes sign exactly the parameter string that goes on the wire
 * (query string, or query + body for V1), so the server can verify the raw bytes it received.
 */

export type ParamValue = string | number | boolean;
export type Params = Readonly<Record<string, ParamValue | undefined>>;

/** `k=encodeURIComponent(v)` joined by `&`, in insertion order, skipping undefined values. */
export function encodeParams(params: Params): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    parts.push(`${k}=${encodeURIComponent(String(v))}`);
  }
  return parts.join('&');
}

/** V1: hex HMAC-SHA256 of `totalParams` (query string immediately followed by the body, no `&`). */
export function hmacSignature(secretKey: string, totalParams: string): string {
  return createHmac('sha256', secretKey).update(totalParams).digest('hex');
}

export const ASTER_CHAIN_ID = 1666;
export const ASTER_TESTNET_CHAIN_ID = 714;

export function asterTypedData(msg: string, chainId: number) {
  return {
    domain: {
      name: 'AsterSignTransaction',
      version: '1',
      chainId,
      verifyingContract: '0x0000000000000000000000000000000000000000',
    },
    types: { Message: [{ name: 'msg', type: 'string' }] },
    primaryType: 'Message',
    message: { msg },
  } as const;
}

/** V3: EIP-712 signature (0x r‖s‖v) of the url-encoded parameter string, by the API-wallet key. */
export async function eip712Signature(privateKey: string, msg: string, chainId: number): Promise<Hex> {
  const account = privateKeyToAccount(privateKey as Hex);
  return account.signTypedData(asterTypedData(msg, chainId));
}

/**
 * V3 nonces: microseconds, strictly increasing even when two requests fall in the same
 * microsecond or the clock steps back — except across `rebase()`.
 */
export class MicrosecondNonce {
  private last = 0;
  constructor(private readonly nowMs: () => number) {}
  next(): number {
    const candidate = Math.floor(this.nowMs() * 1000);
    this.last = candidate > this.last ? candidate : this.last + 1;
    return this.last;
  }
  /**
   * After the clock was corrected backwards (ours ran ahead of the exchange's): nonces restart
   * from the corrected clock. Without this they would stay ahead of the exchange's ±10 s window
   * for as long as the skew lasted and every request would be refused as expired.
   */
  rebase(): void {
    this.last = 0;
  }
}

/** Replaces every occurrence of the given secrets (and any `signature=` value) in a text: the one rule. */
export function redact(text: string, secrets: readonly string[]): string {
  return redactText(text, secrets);
}
