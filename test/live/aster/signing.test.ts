import { describe, expect, it } from 'vitest';
import { privateKeyToAccount } from 'viem/accounts';
import { recoverTypedDataAddress } from 'viem';
import {
  ASTER_CHAIN_ID,
  ASTER_TESTNET_CHAIN_ID,
  MicrosecondNonce,
  asterTypedData,
  eip712Signature,
  encodeParams,
  hmacSignature,
  redact,
} from '../../../live/aster/signing.ts';

// documented vectors (shared/reference/aster-api.md §1.2.1 and §1.3.1)
const SECRET = '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9';
const PK = '0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1';
const SIGNER = '0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0';
const USER = '0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e';

describe('V1 HMAC signing', () => {
  it('reproduces the documented order vector', () => {
    const msg = encodeParams({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      quantity: 1,
      price: 9000,
      timeInForce: 'GTC',
      recvWindow: 5000,
      timestamp: 1591702613943,
    });
    expect(msg).toBe(
      'symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943',
    );
    expect(hmacSignature(SECRET, msg)).toBe('3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9');
  });

  it('signs query + body concatenated with no separator (mixed example)', () => {
    const total =
      'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC' +
      'quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943';
    expect(hmacSignature(SECRET, total)).toBe('30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4');
  });
});

describe('V3 EIP-712 signing', () => {
  const msg =
    'symbol=ASTERUSDT&type=LIMIT&side=BUY&timeInForce=GTC&quantity=20&price=0.5&nonce=1748310859508867' +
    `&user=${USER}&signer=${SIGNER}`;

  it('derives the documented signer from the demo key', () => {
    expect(privateKeyToAccount(PK).address).toBe(SIGNER);
  });

  it('reproduces the mainnet vector and recovers the signer', async () => {
    const sig = await eip712Signature(PK, msg, ASTER_CHAIN_ID);
    expect(sig).toBe(
      '0x0a56c5923ebf3524475c5f631940ec4c0e41dbd300ad28198d1915d8f3ca49ce26fd1aeb8b0c3079133595da0de38322ae7e860e0c76d032c4a491d27c1430b01c',
    );
    const recovered = await recoverTypedDataAddress({ ...asterTypedData(msg, ASTER_CHAIN_ID), signature: sig });
    expect(recovered).toBe(SIGNER);
  });

  it('reproduces the testnet vector (chainId 714)', async () => {
    expect(await eip712Signature(PK, msg, ASTER_TESTNET_CHAIN_ID)).toBe(
      '0xf91e000376f360c1661cf0fbc79a816e915dce485c616bd49c5e35c6cbc5ba5042ccf75a2bffd282676dbf698087a73982bfd1491a993eeedc276f6827c94a8c1c',
    );
  });

  it('nonces are microseconds and strictly increasing, even when the clock stalls or steps back', () => {
    let t = 1748310859508;
    const nonce = new MicrosecondNonce(() => t);
    const a = nonce.next();
    const b = nonce.next();
    t -= 5;
    const c = nonce.next();
    t += 10;
    const d = nonce.next();
    expect(a).toBe(1748310859508000);
    expect(b).toBe(a + 1);
    expect(c).toBe(b + 1);
    expect(d).toBe(1748310859513000);
  });

  it('rebase() lets nonces follow a clock corrected backwards (they never would on their own)', () => {
    let t = 1748310859508;
    const nonce = new MicrosecondNonce(() => t);
    nonce.next();
    t -= 30_000; // our clock was 30 s fast; corrected
    expect(nonce.next()).toBe(1748310859508001);
    nonce.rebase();
    expect(nonce.next()).toBe(1748310829508000);
    expect(nonce.next()).toBe(1748310829508001);
  });
});

describe('redaction', () => {
  it('removes secrets and signatures from texts', () => {
    const text = `secret=${SECRET} url=/fapi/v1/order?symbol=X&signature=0xabc123`;
    const out = redact(text, [SECRET]);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain('abc123');
  });
});
