import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { SapphireError } from '../pipelines/errors.ts';
import { collectFiles, tarGz } from './tar.ts';
import { isEnvelope, openBlob, readHeader, sealBlob, type ContentKind, type EncryptionProvider } from './envelope.ts';

/**
 * Walrus blob storage through the publisher / aggregator HTTP API:
 * `PUT {publisher}/v1/blobs?epochs=N` (body = the bytes) and `GET {aggregator}/v1/blobs/{blobId}`.
 * A file is stored as is; a directory as a deterministic .tar.gz (see tar.ts). Either is
 * encrypted before it leaves the machine (envelope.ts) unless the caller asks for a public blob.
 */

export const RECORD_FILE = 'archive.json';
const BLOB_ID = /^[A-Za-z0-9_-]{16,128}$/;
export const MAX_EPOCHS = 1000;

const PutResponse = z.union([
  z.object({
    newlyCreated: z.object({
      blobObject: z.object({
        blobId: z.string(),
        id: z.string().optional(),
        size: z.number().optional(),
        storage: z.object({ endEpoch: z.number() }).partial().optional(),
      }),
    }),
  }),
  z.object({
    alreadyCertified: z.object({ blobId: z.string(), endEpoch: z.number().optional() }),
  }),
]);

export interface PutResult {
  blobId: string;
  status: 'newlyCreated' | 'alreadyCertified';
  /** Sui object id of the blob (newly created only) */
  objectId?: string;
  /** last epoch the blob is stored for, when the publisher says */
  endEpoch?: number;
}

export interface HttpOptions {
  /** per request, default 120 s */
  timeoutMs?: number;
}

/** Origin + path only: never credentials or a query in a message or a record. */
function safeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function endpoint(base: string, path: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new SapphireError('NOT_CONFIGURED', `${what} is not a URL`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url;
}

async function request(url: URL, init: RequestInit, what: string, timeoutMs: number): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (cause ?? (error as Error).message);
    throw new SapphireError('ARCHIVE_FAILED', `cannot reach the Walrus ${what} at ${safeUrl(url)}: ${reason}`);
  }
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 200);
    throw new SapphireError(
      'ARCHIVE_FAILED',
      `the Walrus ${what} answered ${response.status} ${response.statusText} for ${init.method ?? 'GET'} ${safeUrl(url)}${text ? `: ${text}` : ''}`,
    );
  }
  return response;
}

export async function putBlob(
  publisherUrl: string,
  body: Uint8Array,
  options: HttpOptions & { epochs: number },
): Promise<PutResult> {
  if (!Number.isInteger(options.epochs) || options.epochs < 1 || options.epochs > MAX_EPOCHS) {
    throw new SapphireError('CLI_USAGE', `--epochs must be an integer from 1 to ${MAX_EPOCHS}, got ${options.epochs}`);
  }
  const url = endpoint(publisherUrl, '/v1/blobs', 'WALRUS_PUBLISHER_URL');
  url.search = `epochs=${options.epochs}`;
  const response = await request(
    url,
    { method: 'PUT', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/octet-stream' } },
    'publisher',
    options.timeoutMs ?? 120_000,
  );
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    throw new SapphireError('ARCHIVE_FAILED', `the Walrus publisher at ${safeUrl(url)} did not answer JSON`);
  }
  const parsed = PutResponse.safeParse(json);
  if (!parsed.success) {
    throw new SapphireError(
      'ARCHIVE_FAILED',
      `the Walrus publisher answer has neither newlyCreated.blobObject.blobId nor alreadyCertified.blobId`,
    );
  }
  const result: PutResult =
    'newlyCreated' in parsed.data
      ? {
          blobId: parsed.data.newlyCreated.blobObject.blobId,
          status: 'newlyCreated',
          objectId: parsed.data.newlyCreated.blobObject.id,
          endEpoch: parsed.data.newlyCreated.blobObject.storage?.endEpoch,
        }
      : {
          blobId: parsed.data.alreadyCertified.blobId,
          status: 'alreadyCertified',
          endEpoch: parsed.data.alreadyCertified.endEpoch,
        };
  if (!BLOB_ID.test(result.blobId)) {
    throw new SapphireError('ARCHIVE_FAILED', `the Walrus publisher returned a malformed blob id`);
  }
  return result;
}

export function checkBlobId(blobId: string): string {
  if (!BLOB_ID.test(blobId)) {
    throw new SapphireError('CLI_USAGE', `${JSON.stringify(blobId)} is not a Walrus blob id (URL-safe base64)`);
  }
  return blobId;
}

export async function getBlob(aggregatorUrl: string, blobId: string, options: HttpOptions = {}): Promise<Buffer> {
  const url = endpoint(aggregatorUrl, `/v1/blobs/${checkBlobId(blobId)}`, 'WALRUS_AGGREGATOR_URL');
  const response = await request(url, { method: 'GET' }, 'aggregator', options.timeoutMs ?? 120_000);
  return Buffer.from(await response.arrayBuffer());
}

/** Writes beside the target then renames: a reader sees the old file or the whole new one, never a part. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

export interface ArchiveRecord {
  kind: 'sapphire-archive';
  version: 1;
  blobId: string;
  status: PutResult['status'];
  objectId: string | null;
  epochs: number;
  endEpoch: number | null;
  publisher: string;
  /** what was stored: the file itself, the directory as a .tar.gz, or a research bundle (.tar.gz) */
  content: ContentKind;
  /** 'none' for --public blobs; else the provider and the id of its key (never the key) */
  encryption: 'none' | { provider: string; keyId: string | null };
  source: string;
  files: string[];
  /** size and SHA-256 of the stored blob (the ciphertext when encrypted) */
  bytes: number;
  sha256: string;
  archivedAt: string;
}

/** How to store: encrypted with a provider, or in the clear (`--public`). */
export type Protection = EncryptionProvider | 'public';

export interface PutPathResult {
  record: ArchiveRecord;
  /** where the record was written: archive.json beside result.json, else `<path>.archive.json` */
  recordPath: string;
}

/** The bytes Walrus will store for a path: a file as is, a directory as .tar.gz (minus its own archive.json). */
export function packPath(path: string): { body: Buffer; content: ContentKind; files: string[] } {
  if (!existsSync(path)) throw new SapphireError('CLI_USAGE', `${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const entries = collectFiles(path, new Set([RECORD_FILE]));
    if (entries.length === 0) throw new SapphireError('CLI_USAGE', `${path} has no files to archive`);
    return { body: tarGz(entries), content: 'tar.gz', files: entries.map((e) => e.path) };
  }
  return { body: readFileSync(path), content: 'file', files: [basename(path)] };
}

/** Where the blob id of `path` is recorded. */
export function recordPathFor(path: string): string {
  const full = resolve(path);
  if (statSync(full).isDirectory() && existsSync(join(full, 'result.json'))) return join(full, RECORD_FILE);
  return `${full.replace(/\/+$/, '')}.${RECORD_FILE}`;
}

export async function putPath(
  path: string,
  options: HttpOptions & { publisherUrl: string; epochs: number; protection: Protection; now?: () => Date },
): Promise<PutPathResult> {
  const packed = packPath(path);
  return putPacked(path, packed, options);
}

/** Stores packed bytes (a path's, or a bundle's) and writes the record beside `path`. */
export async function putPacked(
  path: string,
  packed: { body: Buffer; content: ContentKind; files: string[] },
  options: HttpOptions & { publisherUrl: string; epochs: number; protection: Protection; now?: () => Date },
): Promise<PutPathResult> {
  const recordPath = recordPathFor(path);
  const { protection } = options;
  const body = protection === 'public' ? packed.body : await sealBlob(packed.body, packed.content, protection);
  const put = await putBlob(options.publisherUrl, body, options);
  const record: ArchiveRecord = {
    kind: 'sapphire-archive',
    version: 1,
    blobId: put.blobId,
    status: put.status,
    objectId: put.objectId ?? null,
    epochs: options.epochs,
    endEpoch: put.endEpoch ?? null,
    publisher: safeUrl(new URL(options.publisherUrl)),
    content: packed.content,
    encryption:
      protection === 'public'
        ? 'none'
        : { provider: protection.kind, keyId: readHeader(body).header.params.keyId ?? null },
    source: basename(resolve(path)),
    files: packed.files,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    archivedAt: (options.now ?? (() => new Date()))().toISOString(),
  };
  writeAtomic(recordPath, `${JSON.stringify(record, null, 2)}\n`);
  return { record, recordPath };
}

export interface FetchedBlob {
  /** the content (decrypted when the blob was encrypted) */
  data: Buffer;
  encrypted: boolean;
  /** what the blob holds, when the envelope says (public blobs do not) */
  content: ContentKind | null;
}

/**
 * Fetches a blob and, when it is encrypted, opens it with the matching provider. A public blob
 * comes back as is. Throws ARCHIVE_REFUSED for a wrong key or any altered byte.
 */
export async function fetchBlob(
  blobId: string,
  options: HttpOptions & { aggregatorUrl: string; providers: readonly EncryptionProvider[] },
): Promise<FetchedBlob> {
  const raw = await getBlob(options.aggregatorUrl, blobId, options);
  if (!isEnvelope(raw)) return { data: raw, encrypted: false, content: null };
  const opened = await openBlob(raw, options.providers);
  return { data: opened.plain, encrypted: true, content: opened.content };
}

/**
 * Fetches a blob into `out`: decrypted and authenticated in memory first, then written to a
 * temporary file and renamed. Nothing is written on any failure (wrong key, altered byte, 404).
 */
export async function getToFile(
  blobId: string,
  out: string,
  options: HttpOptions & { aggregatorUrl: string; providers: readonly EncryptionProvider[] },
): Promise<FetchedBlob & { bytes: number }> {
  checkBlobId(blobId);
  if (!existsSync(dirname(resolve(out)))) {
    throw new SapphireError('CLI_USAGE', `--out ${out}: the folder ${dirname(resolve(out))} does not exist`);
  }
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new SapphireError('CLI_USAGE', `--out ${out} is a directory; give a file path`);
  }
  const fetched = await fetchBlob(blobId, options);
  writeAtomic(out, fetched.data);
  return { ...fetched, bytes: fetched.data.length };
}
