import { describe, expect, it } from 'vitest';
import { asterCredentials } from '../../../live/aster/index.ts';
import { isSapphireError } from '../../../pipelines/errors.ts';

const EMPTY = {
  ASTER_REST_URL: 'https://fapi.asterdex.com',
  ASTER_API_KEY: '',
  ASTER_SECRET_KEY: '',
  ASTER_USER: '',
  ASTER_SIGNER: '',
  ASTER_SIGNER_PRIVATE_KEY: '',
};
const PK = '0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1';

describe('asterCredentials', () => {
  it('none → market data only', () => {
    expect(asterCredentials(EMPTY)).toBeUndefined();
  });
  it('V1 pair → hmac; a half pair is refused without echoing the value', () => {
    expect(asterCredentials({ ...EMPTY, ASTER_API_KEY: 'a'.repeat(64), ASTER_SECRET_KEY: 'b'.repeat(64) })).toEqual({
      kind: 'hmac',
      apiKey: 'a'.repeat(64),
      secretKey: 'b'.repeat(64),
    });
    let e: unknown;
    try {
      asterCredentials({ ...EMPTY, ASTER_SECRET_KEY: 'c'.repeat(64) });
    } catch (x) {
      e = x;
    }
    expect(isSapphireError(e, 'SETTINGS_INVALID')).toBe(true);
    expect((e as Error).message).not.toContain('c'.repeat(64));
  });
  it('V3 API wallet wins; testnet host → chainId 714', () => {
    const v3 = {
      ...EMPTY,
      ASTER_API_KEY: 'a'.repeat(64),
      ASTER_SECRET_KEY: 'b'.repeat(64),
      ASTER_USER: '0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e',
      ASTER_SIGNER: '0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0',
      ASTER_SIGNER_PRIVATE_KEY: PK,
    };
    expect(asterCredentials(v3)).toMatchObject({ kind: 'eip712', chainId: 1666 });
    expect(asterCredentials({ ...v3, ASTER_REST_URL: 'https://fapi.asterdex-testnet.com' })).toMatchObject({
      chainId: 714,
    });
    expect(() => asterCredentials({ ...v3, ASTER_USER: '' })).toThrow(/ASTER_USER/);
  });
});
