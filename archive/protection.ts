import type { Settings } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { resolveSecrets, secretsProviderFor } from '../secrets/index.ts';
import { aesGcmProvider, parseArchiveKey, type EncryptionProvider } from './envelope.ts';
import type { Protection } from './walrus.ts';

/**
 * The encryption providers this machine can use, from the secrets provider (SECRETS_PROVIDER:
 * the environment/.env or Google Secret Manager). Today: AES-256-GCM under ARCHIVE_KEY. The key
 * is read here and kept in memory only.
 */
export async function archiveProviders(settings: Settings): Promise<EncryptionProvider[]> {
  const resolved = await resolveSecrets(settings, secretsProviderFor(settings));
  if (resolved.ARCHIVE_KEY === '') return [];
  return [aesGcmProvider(parseArchiveKey(resolved.ARCHIVE_KEY))];
}

/** How `archive put` stores: encrypted by default, in the clear only when asked (`--public`). */
export async function protectionFor(settings: Settings, isPublic: boolean): Promise<Protection> {
  if (isPublic) return 'public';
  const [provider] = await archiveProviders(settings);
  if (provider === undefined) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'ARCHIVE_KEY is not set: archive put encrypts by default (make a key with openssl rand -hex 32 and keep it safe), or pass --public to store the content in the clear, readable by anyone',
    );
  }
  return provider;
}
