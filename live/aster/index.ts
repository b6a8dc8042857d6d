import type { LiveSettings } from '../live.settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { ASTER_CHAIN_ID, ASTER_TESTNET_CHAIN_ID } from './signing.ts';
import type { AsterCredentials } from './rest-client.ts';

export * from './rest-client.ts';
export * from './market-stream.ts';
export * from './user-stream.ts';
export * from './aster-market-port.ts';
export * from './aster-execution-port.ts';
export * from './order-precision.ts';

type AsterSettings = Pick<
  LiveSettings,
  'ASTER_REST_URL' | 'ASTER_API_KEY' | 'ASTER_SECRET_KEY' | 'ASTER_USER' | 'ASTER_SIGNER' | 'ASTER_SIGNER_PRIVATE_KEY'
>;

/**
 * Credentials from settings: a V3 API wallet (signer private key) wins over a V1 key pair; none
 * → undefined (market data only). A half-configured pair is an error naming the missing keys,
 * never their values. The testnet host selects chainId 714.
 */
export function asterCredentials(s: AsterSettings): AsterCredentials | undefined {
  if (s.ASTER_SIGNER_PRIVATE_KEY !== '') {
    const missing = (['ASTER_USER', 'ASTER_SIGNER'] as const).filter((k) => s[k] === '');
    if (missing.length > 0)
      throw new SapphireError('SETTINGS_INVALID', `ASTER_SIGNER_PRIVATE_KEY is set but ${missing.join(', ')} is empty`);
    return {
      kind: 'eip712',
      user: s.ASTER_USER,
      signer: s.ASTER_SIGNER,
      privateKey: s.ASTER_SIGNER_PRIVATE_KEY,
      chainId: s.ASTER_REST_URL.includes('testnet') ? ASTER_TESTNET_CHAIN_ID : ASTER_CHAIN_ID,
    };
  }
  if (s.ASTER_API_KEY !== '' || s.ASTER_SECRET_KEY !== '') {
    if (s.ASTER_API_KEY === '' || s.ASTER_SECRET_KEY === '')
      throw new SapphireError('SETTINGS_INVALID', 'ASTER_API_KEY and ASTER_SECRET_KEY must be set together');
    return { kind: 'hmac', apiKey: s.ASTER_API_KEY, secretKey: s.ASTER_SECRET_KEY };
  }
  return undefined;
}
