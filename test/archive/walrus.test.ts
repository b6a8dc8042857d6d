import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getToFile, putBlob, putPath, type ArchiveRecord } from '../../archive/walrus.ts';
import { sapphire, startWalrusPeer, type WalrusPeer } from './walrus-peer.ts';
import { isSapphireError } from '../../pipelines/errors.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/core');

let peer: WalrusPeer;
let work: string;
let envFile: string;

beforeAll(async () => {
  peer = await startWalrusPeer();
});
afterAll(async () => {
  await peer.close();
});
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'sapphire-archive-'));
  envFile = join(work, 'empty.env');
  writeFileSync(envFile, '');
  peer.failNext = undefined;
  return () => rmSync(work, { recursive: true, force: true });
});

describe('walrus client', () => {
  it('put a file, then get it back byte for byte; a second put is alreadyCertified', async () => {
    const file = join(work, 'BTCUSDT-5m.csv');
    copyFileSync(join(FIXTURES, 'BTCUSDT-5m-2025-01-28.csv'), file);
    const original = readFileSync(file);
    const first = await putPath(file, {
      publisherUrl: peer.url,
      protection: 'public',
      epochs: 3,
      now: () => new Date(0),
    });
    expect(first.record.status).toBe('newlyCreated');
    expect(first.record.content).toBe('file');
    expect(first.record.sha256).toBe(createHash('sha256').update(original).digest('hex'));
    expect(first.record.bytes).toBe(original.length);
    expect(first.record.endEpoch).not.toBeNull();
    expect(first.recordPath).toBe(`${file}.archive.json`);
    expect(JSON.parse(readFileSync(first.recordPath, 'utf8'))).toEqual(first.record);
    expect(peer.requests.at(-1)).toEqual({ method: 'PUT', url: '/v1/blobs?epochs=3' });

    const again = await putBlob(peer.url, original, { epochs: 1 });
    expect(again).toMatchObject({ blobId: first.record.blobId, status: 'alreadyCertified' });

    const out = join(work, 'back.csv');
    expect((await getToFile(first.record.blobId, out, { aggregatorUrl: peer.url, providers: [] })).bytes).toBe(
      original.length,
    );
    expect(readFileSync(out).equals(original)).toBe(true);
    expect(peer.requests.at(-1)).toEqual({ method: 'GET', url: `/v1/blobs/${first.record.blobId}` });
  });

  it('a directory becomes a deterministic .tar.gz that tar can list and extract', async () => {
    const dir = join(work, 'dataset');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    copyFileSync(join(FIXTURES, 'BTCUSDT-5m-2025-01-28.csv'), join(dir, 'BTCUSDT.csv'));
    copyFileSync(join(FIXTURES, 'ETHUSDT-5m-2025-01-28.csv'), join(dir, 'nested', 'ETHUSDT.csv'));
    const a = await putPath(dir, { publisherUrl: peer.url, protection: 'public', epochs: 1 });
    expect(a.record.content).toBe('tar.gz');
    expect(a.record.files).toEqual(['BTCUSDT.csv', 'nested/ETHUSDT.csv']);
    // not a backtest dir: the record goes beside the folder, the folder stays untouched
    expect(a.recordPath).toBe(`${dir}.archive.json`);
    expect(readdirSync(dir).sort()).toEqual(['BTCUSDT.csv', 'nested']);
    const b = await putPath(dir, { publisherUrl: peer.url, protection: 'public', epochs: 1 });
    expect(b.record.blobId).toBe(a.record.blobId);
    expect(b.record.status).toBe('alreadyCertified');

    const tgz = join(work, 'back.tar.gz');
    await getToFile(a.record.blobId, tgz, { aggregatorUrl: peer.url, providers: [] });
    const listing = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' });
    expect(listing.status).toBe(0);
    expect(listing.stdout.trim().split('\n')).toEqual(['BTCUSDT.csv', 'nested/ETHUSDT.csv']);
    const into = join(work, 'extracted');
    mkdirSync(into);
    expect(spawnSync('tar', ['xzf', tgz, '-C', into]).status).toBe(0);
    expect(readFileSync(join(into, 'nested/ETHUSDT.csv')).equals(readFileSync(join(dir, 'nested/ETHUSDT.csv')))).toBe(
      true,
    );
  });

  it('long paths use the ustar prefix field and survive tar', async () => {
    const deep = join(work, 'deep', 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    copyFileSync(join(FIXTURES, 'ETHUSDT-5m-2025-01-28.csv'), join(deep, 'ETHUSDT-5m-2025-01-28.csv'));
    const { record } = await putPath(join(work, 'deep'), { publisherUrl: peer.url, protection: 'public', epochs: 1 });
    const tgz = join(work, 'deep.tar.gz');
    await getToFile(record.blobId, tgz, { aggregatorUrl: peer.url, providers: [] });
    const listing = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' });
    expect(listing.stdout.trim()).toBe(`${'a'.repeat(60)}/${'b'.repeat(60)}/ETHUSDT-5m-2025-01-28.csv`);
  });

  it('publisher errors and bad answers are clear errors and write no record', async () => {
    const file = join(work, 'x.csv');
    copyFileSync(join(FIXTURES, 'BTCUSDT-5m-2025-01-28.csv'), file);
    peer.failNext = { status: 500, body: 'storage node quorum lost' };
    const error = await putPath(file, { publisherUrl: peer.url, protection: 'public', epochs: 1 }).catch(
      (e: unknown) => e,
    );
    expect(isSapphireError(error, 'ARCHIVE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(
      /publisher answered 500 .*PUT http:\/\/127\.0\.0\.1:\d+\/v1\/blobs: storage node/,
    );
    expect(existsSync(`${file}.archive.json`)).toBe(false);

    peer.failNext = { status: 200, body: '{"unexpected":true}' };
    await expect(putBlob(peer.url, Buffer.from('abc'), { epochs: 1 })).rejects.toThrow(/neither newlyCreated/);
    await expect(putBlob(peer.url, Buffer.from('abc'), { epochs: 0 })).rejects.toThrow(/--epochs/);
  });

  it('get of an unknown blob fails and writes nothing, keeping an existing file intact', async () => {
    const out = join(work, 'keep.csv');
    writeFileSync(out, 'previous');
    const missing = 'A'.repeat(43);
    await expect(getToFile(missing, out, { aggregatorUrl: peer.url, providers: [] })).rejects.toThrow(
      /aggregator answered 404/,
    );
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(work).sort()).toEqual(['empty.env', 'keep.csv']); // no temp file left
    await expect(getToFile('../../etc/passwd', out, { aggregatorUrl: peer.url, providers: [] })).rejects.toThrow(
      /not a Walrus blob id/,
    );
  });

  it('an unreachable publisher is a clear error', async () => {
    const closed = await startWalrusPeer();
    const url = closed.url;
    await closed.close();
    await expect(putBlob(url, Buffer.from('abc'), { epochs: 1 })).rejects.toThrow(
      /cannot reach the Walrus publisher at http:\/\/127\.0\.0\.1:\d+\/v1\/blobs: ECONNREFUSED/,
    );
  });
});

// CLI runs spawn tsx processes: slow on a loaded machine
describe('sapphire archive (CLI)', { timeout: 180_000 }, () => {
  it('put a real backtest out dir records archive.json beside result.json; get restores it', async () => {
    const out = join(work, 'bt');
    const bt = await sapphire(['backtest', '--quiet', '--data', FIXTURES, '--out', out, '--dotenv', envFile], {}, work);
    expect(bt.code, bt.stderr).toBe(0);
    expect(existsSync(join(out, 'result.json'))).toBe(true);

    const put = await sapphire(
      ['archive', 'put', out, '--public', '--epochs', '5', '--dotenv', envFile],
      {
        WALRUS_PUBLISHER_URL: peer.url,
      },
      work,
    );
    expect(put.code, put.stderr).toBe(0);
    const blobId = put.stdout.trim();
    const record = JSON.parse(readFileSync(join(out, 'archive.json'), 'utf8')) as ArchiveRecord;
    expect(record).toMatchObject({ kind: 'sapphire-archive', blobId, epochs: 5, content: 'tar.gz', source: 'bt' });
    expect(record.files).toContain('result.json');
    expect(peer.requests.at(-1)).toEqual({ method: 'PUT', url: '/v1/blobs?epochs=5' });

    // archiving again leaves archive.json out of the tarball: same blob
    const again = await sapphire(
      ['archive', 'put', out, '--public', '--epochs', '5', '--dotenv', envFile],
      {
        WALRUS_PUBLISHER_URL: peer.url,
      },
      work,
    );
    expect(again.stdout.trim()).toBe(blobId);

    const tgz = join(work, 'bt.tar.gz');
    const get = await sapphire(
      ['archive', 'get', blobId, '--out', tgz, '--dotenv', envFile],
      {
        WALRUS_AGGREGATOR_URL: peer.url,
      },
      work,
    );
    expect(get.code, get.stderr).toBe(0);
    const into = join(work, 'restored');
    mkdirSync(into);
    expect(spawnSync('tar', ['xzf', tgz, '-C', into]).status).toBe(0);
    expect(readFileSync(join(into, 'result.json')).equals(readFileSync(join(out, 'result.json')))).toBe(true);
  });

  it('errors exit non-zero with a clear message and write nothing', async () => {
    const target = join(work, 'got.bin');
    const notFound = await sapphire(
      ['archive', 'get', 'B'.repeat(43), '--out', target, '--dotenv', envFile],
      {
        WALRUS_AGGREGATOR_URL: peer.url,
      },
      work,
    );
    expect(notFound.code).not.toBe(0);
    expect(notFound.stderr).toMatch(/ARCHIVE_FAILED: the Walrus aggregator answered 404/);
    expect(existsSync(target)).toBe(false);

    const file = join(work, 'data.csv');
    copyFileSync(join(FIXTURES, 'BTCUSDT-5m-2025-01-28.csv'), file);
    peer.failNext = { status: 503, body: 'busy' };
    const failed = await sapphire(
      ['archive', 'put', file, '--public', '--dotenv', envFile],
      { WALRUS_PUBLISHER_URL: peer.url },
      work,
    );
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/publisher answered 503/);
    expect(existsSync(`${file}.archive.json`)).toBe(false);

    const unconfigured = await sapphire(['archive', 'put', file, '--public', '--dotenv', envFile], {}, work);
    expect(unconfigured.code).not.toBe(0);
    expect(unconfigured.stderr).toMatch(/NOT_CONFIGURED: WALRUS_PUBLISHER_URL is not set/);

    const badEpochs = await sapphire(
      ['archive', 'put', file, '--epochs', 'many', '--dotenv', envFile],
      {
        WALRUS_PUBLISHER_URL: peer.url,
      },
      work,
    );
    expect(badEpochs.code).not.toBe(0);
    expect(badEpochs.stderr).toMatch(/--epochs must be an integer/);

    const badVerb = await sapphire(['archive', 'delete', file, '--dotenv', envFile], {}, work);
    expect(badVerb.code).not.toBe(0);
    expect(badVerb.stderr).toMatch(/expected put or get/);
    expect(existsSync(`${file}.archive.json`)).toBe(false);
  });
});
