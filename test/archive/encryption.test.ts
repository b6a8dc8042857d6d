import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getToFile, putPath } from '../../archive/walrus.ts';
import { aesGcmProvider, isEnvelope, keyIdOf, parseArchiveKey } from '../../archive/envelope.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { sapphire, startWalrusPeer, type WalrusPeer } from './walrus-peer.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CSV = join(ROOT, 'test/fixtures/core/BTCUSDT-5m-2025-01-28.csv');
const KEY_HEX = randomBytes(32).toString('hex');
const OTHER_HEX = randomBytes(32).toString('hex');

let peer: WalrusPeer;
let work: string;
let file: string;
let original: Buffer;

beforeAll(async () => {
  peer = await startWalrusPeer();
});
afterAll(async () => {
  await peer.close();
});
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'archives-enc-'));
  file = join(work, 'BTCUSDT-5m.csv');
  copyFileSync(CSV, file);
  original = readFileSync(file);
  peer.failNext = undefined;
  return () => rmSync(work, { recursive: true, force: true });
});

const key = () => aesGcmProvider(parseArchiveKey(KEY_HEX));

/** Flips one bit of the stored blob at `offset` (negative: from the end). */
function tamper(blobId: string, offset: number): void {
  const blob = Buffer.from(peer.blobs.get(blobId)!);
  const at = offset < 0 ? blob.length + offset : offset;
  blob[at] = blob[at]! ^ 0x01;
  peer.blobs.set(blobId, blob);
}

describe('encrypted archives (AES-256-GCM under ARCHIVE_KEY)', () => {
  it('put encrypts: Walrus never sees the content, the record never holds the key; get restores it', async () => {
    const { record, recordPath } = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: key() });
    const stored = peer.blobs.get(record.blobId)!;
    expect(isEnvelope(stored)).toBe(true);
    expect(stored.includes(original.subarray(0, 40))).toBe(false);
    expect(stored.toString('latin1')).not.toContain('open,high');
    expect(record.encryption).toEqual({ provider: 'aes-256-gcm', keyId: keyIdOf(parseArchiveKey(KEY_HEX)) });
    const recordText = readFileSync(recordPath, 'utf8');
    expect(recordText).not.toContain(KEY_HEX);
    expect(stored.toString('latin1')).not.toContain(KEY_HEX);
    expect(stored.includes(parseArchiveKey(KEY_HEX))).toBe(false);

    const out = join(work, 'back.csv');
    const got = await getToFile(record.blobId, out, { aggregatorUrl: peer.url, providers: [key()] });
    expect(got).toMatchObject({ encrypted: true, content: 'file', bytes: original.length });
    expect(readFileSync(out).equals(original)).toBe(true);
  });

  it('a fresh nonce per blob: the same file twice gives two different blobs', async () => {
    const a = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: key() });
    const b = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: key() });
    expect(a.record.blobId).not.toBe(b.record.blobId);
    expect(b.record.status).toBe('newlyCreated');
  });

  it('--public stores the content in the clear and get returns it as is', async () => {
    const { record } = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: 'public' });
    expect(record.encryption).toBe('none');
    expect(peer.blobs.get(record.blobId)!.equals(original)).toBe(true);
    const out = join(work, 'public.csv');
    const got = await getToFile(record.blobId, out, { aggregatorUrl: peer.url, providers: [] });
    expect(got.encrypted).toBe(false);
    expect(readFileSync(out).equals(original)).toBe(true);
  });

  it('a wrong key is refused, nothing written, an existing file kept, no temp file left', async () => {
    const { record } = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: key() });
    const out = join(work, 'keep.csv');
    writeFileSync(out, 'previous');
    const wrong = aesGcmProvider(parseArchiveKey(OTHER_HEX));
    const error = await getToFile(record.blobId, out, { aggregatorUrl: peer.url, providers: [wrong] }).catch(
      (e: unknown) => e,
    );
    expect(isSapphireError(error, 'ARCHIVE_REFUSED')).toBe(true);
    expect((error as Error).message).toMatch(/encrypted with another key .*nothing written/);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(work).sort()).toEqual(['BTCUSDT-5m.csv', 'BTCUSDT-5m.csv.archive.json', 'keep.csv']);

    const none = await getToFile(record.blobId, join(work, 'n.csv'), { aggregatorUrl: peer.url, providers: [] }).catch(
      (e: unknown) => e,
    );
    expect(isSapphireError(none, 'NOT_CONFIGURED')).toBe(true);
    expect(existsSync(join(work, 'n.csv'))).toBe(false);
  });

  it.each([
    ['a ciphertext byte', 40],
    ['the authentication tag', -1],
    ['the authenticated header', 20],
  ])('a flipped bit in %s is refused and nothing is written', async (_what, offset) => {
    const { record } = await putPath(file, { publisherUrl: peer.url, epochs: 1, protection: key() });
    const header = peer.blobs.get(record.blobId)!;
    const headerEnd = 12 + header.readUInt32BE(8);
    // offsets into the body are counted after the header
    tamper(record.blobId, offset === 20 ? headerEnd - 20 : offset > 0 ? headerEnd + offset : offset);
    const out = join(work, 'tampered.csv');
    const error = await getToFile(record.blobId, out, { aggregatorUrl: peer.url, providers: [key()] }).catch(
      (e: unknown) => e,
    );
    expect(isSapphireError(error, 'ARCHIVE_REFUSED'), String(error)).toBe(true);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).some((f) => f.endsWith('.tmp'))).toBe(false);
  });

  it('a malformed ARCHIVE_KEY is an error that does not echo the value', () => {
    const bad = 'not-a-key-but-secret-looking-0123456789';
    let message = '';
    try {
      parseArchiveKey(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ARCHIVE_KEY must be 32 random bytes/);
    expect(message).not.toContain(bad);
    expect(parseArchiveKey(Buffer.from(KEY_HEX, 'hex').toString('base64')).toString('hex')).toBe(KEY_HEX);
  });
});

describe('sapphire archive put/get with ARCHIVE_KEY (CLI)', { timeout: 240_000 }, () => {
  it('get takes a blob id that begins with "-" as the id, not as a flag', async () => {
    const envFile = join(work, 'dash.env');
    writeFileSync(envFile, '');
    const env = { WALRUS_PUBLISHER_URL: peer.url, WALRUS_AGGREGATOR_URL: peer.url, ARCHIVE_KEY: KEY_HEX };
    const r = await sapphire(
      ['archive', 'get', '-oUnknownBlobIdStartingWithADash0123456789', '--out', join(work, 'x'), '--dotenv', envFile],
      env,
      work,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/CLI_USAGE/);
    expect(r.stderr).toContain('-oUnknownBlobIdStartingWithADash0123456789');
  });

  it('encrypts by default, refuses without a key unless --public, refuses a wrong key on get', async () => {
    const envFile = join(work, 'empty.env');
    writeFileSync(envFile, '');
    const env = { WALRUS_PUBLISHER_URL: peer.url, WALRUS_AGGREGATOR_URL: peer.url };

    const noKey = await sapphire(['archive', 'put', file, '--dotenv', envFile], env, work);
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toMatch(/NOT_CONFIGURED: ARCHIVE_KEY is not set.*--public/);
    expect(existsSync(`${file}.archive.json`)).toBe(false);

    const put = await sapphire(['archive', 'put', file, '--dotenv', envFile], { ...env, ARCHIVE_KEY: KEY_HEX }, work);
    expect(put.code, put.stderr).toBe(0);
    const blobId = put.stdout.trim();
    expect(put.stderr).toMatch(/encrypted with aes-256-gcm/);
    expect(isEnvelope(peer.blobs.get(blobId)!)).toBe(true);
    expect(put.stdout + put.stderr + readFileSync(`${file}.archive.json`, 'utf8')).not.toContain(KEY_HEX);

    const out = join(work, 'got.csv');
    const wrong = await sapphire(
      ['archive', 'get', blobId, '--out', out, '--dotenv', envFile],
      { ...env, ARCHIVE_KEY: OTHER_HEX },
      work,
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/ARCHIVE_REFUSED: the blob was encrypted with another key/);
    expect(wrong.stderr).not.toContain(OTHER_HEX);
    expect(existsSync(out)).toBe(false);

    const right = await sapphire(
      ['archive', 'get', blobId, '--out', out, '--dotenv', envFile],
      { ...env, ARCHIVE_KEY: KEY_HEX },
      work,
    );
    expect(right.code, right.stderr).toBe(0);
    expect(readFileSync(out).equals(original)).toBe(true);

    const pub = await sapphire(['archive', 'put', file, '--public', '--dotenv', envFile], env, work);
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stderr).toMatch(/PUBLIC: stored in the clear/);
    expect(peer.blobs.get(pub.stdout.trim())!.equals(original)).toBe(true);
  });
});
