import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SapphireError } from '../pipelines/errors.ts';

/**
 * The encrypted form of an archive blob:
 *
 *   "SAPHARC" | version (1 byte) | header length (uint32 BE) | header JSON | provider body
 *
 * Everything before the body is the header and is authenticated as AEAD additional data, so
 * changing the version, provider, nonce or content type is detected like a flipped ciphertext
 * byte. The key itself is never in the blob: only a key id (an HMAC of a fixed label under the
 * key), which lets a refusal say "another key" instead of "altered".
 * A public blob (`archive put --public`) carries no envelope: its bytes are the content itself.
 */
const MAGIC = Buffer.from('SAPHARC', 'ascii');
export const ENVELOPE_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 1 + 4;
const MAX_HEADER_BYTES = 16 * 1024;

export const ContentKind = z.enum(['file', 'tar.gz', 'bundle']);
export type ContentKind = z.infer<typeof ContentKind>;

const EnvelopeHeader = z.strictObject({
  /** provider that sealed the body: 'aes-256-gcm' (ARCHIVE_KEY) or another registered one */
  provider: z.string().regex(/^[a-z0-9-]{1,40}$/),
  /** provider parameters (nonce, key id, …): public, authenticated */
  params: z.record(z.string(), z.string().max(512)),
  content: ContentKind,
});
export type EnvelopeHeader = z.infer<typeof EnvelopeHeader>;

/**
 * A way to encrypt blobs. `aes-256-gcm` with ARCHIVE_KEY is built in; a Seal provider
 * (threshold encryption with key servers, @mysten/seal) would implement the same two calls:
 * `seal` returns its public parameters and the sealed body, `open` gets them back with the
 * header bytes as additional data and throws ARCHIVE_REFUSED when they do not authenticate.
 */
export interface EncryptionProvider {
  readonly kind: string;
  /** parameters known before sealing (nonce, key id), so they can be part of the authenticated header */
  prepare(): Record<string, string>;
  seal(plain: Buffer, aad: Buffer, params: Readonly<Record<string, string>>): Promise<Buffer>;
  open(body: Buffer, aad: Buffer, params: Readonly<Record<string, string>>): Promise<Buffer>;
}

/** True when the bytes start like an encrypted archive blob. */
export function isEnvelope(blob: Uint8Array): boolean {
  return blob.length >= PREFIX_BYTES && Buffer.from(blob.subarray(0, MAGIC.length)).equals(MAGIC);
}

function headerBytes(header: EnvelopeHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt8(ENVELOPE_VERSION, MAGIC.length);
  prefix.writeUInt32BE(json.length, MAGIC.length + 1);
  return Buffer.concat([prefix, json]);
}

export async function sealBlob(plain: Buffer, content: ContentKind, provider: EncryptionProvider): Promise<Buffer> {
  const header: EnvelopeHeader = { provider: provider.kind, params: provider.prepare(), content };
  const aad = headerBytes(header);
  return Buffer.concat([aad, await provider.seal(plain, aad, header.params)]);
}

/** Reads the authenticated header of an encrypted blob (not yet authenticated: open() checks it). */
export function readHeader(blob: Buffer): { header: EnvelopeHeader; aad: Buffer; body: Buffer } {
  if (!isEnvelope(blob)) throw new SapphireError('ARCHIVE_REFUSED', 'the blob is not an encrypted Sapphire archive');
  const version = blob.readUInt8(MAGIC.length);
  if (version !== ENVELOPE_VERSION) {
    throw new SapphireError(
      'ARCHIVE_REFUSED',
      `the blob has envelope version ${version}; this Sapphire reads version ${ENVELOPE_VERSION}`,
    );
  }
  const length = blob.readUInt32BE(MAGIC.length + 1);
  if (length > MAX_HEADER_BYTES || PREFIX_BYTES + length > blob.length) {
    throw new SapphireError('ARCHIVE_REFUSED', 'the blob header is damaged (its length runs past the blob)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob.subarray(PREFIX_BYTES, PREFIX_BYTES + length).toString('utf8'));
  } catch {
    throw new SapphireError('ARCHIVE_REFUSED', 'the blob header is damaged (not JSON)');
  }
  const header = EnvelopeHeader.safeParse(parsed);
  if (!header.success) throw new SapphireError('ARCHIVE_REFUSED', 'the blob header is damaged (unexpected fields)');
  return {
    header: header.data,
    aad: blob.subarray(0, PREFIX_BYTES + length),
    body: blob.subarray(PREFIX_BYTES + length),
  };
}

export async function openBlob(
  blob: Buffer,
  providers: readonly EncryptionProvider[],
): Promise<{ plain: Buffer; content: ContentKind; provider: string }> {
  const { header, aad, body } = readHeader(blob);
  const provider = providers.find((p) => p.kind === header.provider);
  if (!provider) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      `the blob is encrypted with ${header.provider}, which is not configured here (configured: ${providers.map((p) => p.kind).join(', ') || 'none'})${header.provider === 'aes-256-gcm' ? ': set ARCHIVE_KEY to the key it was stored with' : ''}`,
    );
  }
  return { plain: await provider.open(body, aad, header.params), content: header.content, provider: header.provider };
}

// --- the built-in provider: AES-256-GCM under ARCHIVE_KEY ---

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** ARCHIVE_KEY as 32 bytes: 64 hex digits or base64 / base64url. The value is never echoed. */
export function parseArchiveKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t)
    ? Buffer.from(t, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(t)
      ? Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : null;
  if (key === null || key.length !== 32) {
    throw new SapphireError(
      'SETTINGS_INVALID',
      'ARCHIVE_KEY must be 32 random bytes written as 64 hex digits or 44 base64 characters (openssl rand -hex 32)',
    );
  }
  return key;
}

/** Identifies a key without revealing it: HMAC-SHA256(key, label), first 8 bytes. */
export function keyIdOf(key: Buffer): string {
  return createHmac('sha256', key).update('sapphire archive key id v1').digest('hex').slice(0, 16);
}

export function aesGcmProvider(key: Buffer): EncryptionProvider {
  if (key.length !== 32) throw new SapphireError('SETTINGS_INVALID', 'ARCHIVE_KEY must be 32 bytes');
  const keyId = keyIdOf(key);
  return {
    kind: 'aes-256-gcm',
    // a fresh random nonce per blob: never reused under one key (96-bit, as GCM expects)
    prepare: () => ({ nonce: randomBytes(NONCE_BYTES).toString('base64'), keyId }),
    seal(plain, aad, params) {
      const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(params.nonce!, 'base64'), {
        authTagLength: TAG_BYTES,
      });
      cipher.setAAD(aad);
      return Promise.resolve(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]));
    },
    open(body, aad, params) {
      if (params.keyId !== keyId) {
        throw new SapphireError(
          'ARCHIVE_REFUSED',
          `the blob was encrypted with another key (key id ${params.keyId ?? '?'}, ARCHIVE_KEY has ${keyId}): nothing written`,
        );
      }
      const nonce = Buffer.from(params.nonce ?? '', 'base64');
      if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) {
        throw new SapphireError('ARCHIVE_REFUSED', 'the blob is damaged (bad nonce or too short): nothing written');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Promise.resolve(
          Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]),
        );
      } catch {
        throw new SapphireError(
          'ARCHIVE_REFUSED',
          'the blob does not authenticate under ARCHIVE_KEY (altered or damaged): nothing written',
        );
      }
    },
  };
}
