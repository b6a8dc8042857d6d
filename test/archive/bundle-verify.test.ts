import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as backtest } from '../../bin/commands/backtest.ts';
import { packBundle } from '../../archive/bundle.ts';
import { aesGcmProvider, openBlob, parseArchiveKey } from '../../archive/envelope.ts';
import { untarGz } from '../../archive/tar.ts';
import { firstDifference, verifyBundle } from '../../archive/verify.ts';
import { putPacked } from '../../archive/walrus.ts';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { findSecrets, SECRETS } from '../../soak/scenarios/secrets.ts';
import { sapphire, startWalrusPeer, type WalrusPeer } from './walrus-peer.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/core');
const KEY_HEX = randomBytes(32).toString('hex');
const REDIS_PASSWORD = 'soak-secret-redispass-5e1c9d';

let peer: WalrusPeer;
let work: string;
let envFile: string;
/** a backtest out dir made with secrets configured, on a private copy of the fixtures */
let out: string;
let dataCopy: string;

const silently = async <T>(fn: () => Promise<T>): Promise<T> => {
  const log = console.log;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
  }
};

beforeAll(async () => {
  peer = await startWalrusPeer();
  work = mkdtempSync(join(tmpdir(), 'archives-bundle-'));
  envFile = join(work, 'secrets.env');
  // the soak's known secrets, a Redis URL with a password, and the archive key itself
  const lines = Object.entries(SECRETS).map(([k, v]) => `${k}=${v}`);
  lines.push(`REDIS_URL=redis://sapphire:${REDIS_PASSWORD}@127.0.0.1:6379/0`, `ARCHIVE_KEY=${KEY_HEX}`);
  writeFileSync(envFile, `${lines.join('\n')}\n`);
  dataCopy = join(work, 'data');
  mkdirSync(dataCopy);
  for (const f of ['BTCUSDT-5m-2025-01-28.csv', 'ETHUSDT-5m-2025-01-28.csv']) {
    copyFileSync(join(FIXTURES, f), join(dataCopy, f));
  }
  out = join(work, 'bt');
  const code = await silently(() => backtest(['--quiet', '--data', dataCopy, '--out', out, '--dotenv', envFile]));
  expect(code).toBe(0);
}, 120_000);
afterAll(async () => {
  await peer.close();
  rmSync(work, { recursive: true, force: true });
});

const settings = () => loadSettings({ envFile, env: {} });

/** Every file of an altered copy of the data: each price of BTC scaled by 1.01. */
function alterData(dir: string): void {
  const file = join(dir, 'BTCUSDT-5m-2025-01-28.csv');
  const [head, ...rows] = readFileSync(file, 'utf8').trimEnd().split('\n');
  const scaled = rows.map((row) => {
    const [date, ...values] = row.split(',');
    const prices = values.slice(0, 4).map((v) => (Number(v) * 1.01).toFixed(1));
    return [date, ...prices, values[4]].join(',');
  });
  writeFileSync(file, `${[head, ...scaled].join('\n')}\n`);
}

describe('research bundles', { timeout: 240_000 }, () => {
  it('result.json itself carries no secret, nor the Redis password (fails on main: REDIS_URL was written in clear)', () => {
    const text = readFileSync(join(out, 'result.json'), 'utf8');
    expect(findSecrets(text, 'result.json')).toEqual([]);
    expect(text).not.toContain(REDIS_PASSWORD);
    expect(text).not.toContain(KEY_HEX);
    expect(text).toContain('redis://sapphire:***@127.0.0.1:6379/0');
  });

  it('a bundle holds result.json, the data, the funding input and a manifest, and no secret at all', () => {
    const bundle = packBundle(out, { settings: settings() });
    expect(bundle.content).toBe('bundle');
    const entries = untarGz(bundle.body);
    const paths = entries.map((e) => e.path);
    expect(paths).toContain('bundle.json');
    expect(paths).toContain('result.json');
    expect(paths).toContain('data/BTCUSDT-5m-2025-01-28.csv');
    expect(paths.some((p) => p.startsWith('inputs/funding/'))).toBe(true);
    const manifest = JSON.parse(entries.find((e) => e.path === 'bundle.json')!.data.toString()) as {
      made: { packageLockSha256: string };
      run: unknown;
    };
    expect(manifest.made.packageLockSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.run).toMatchObject({ closeAtEnd: false, tapeMiss: 'error', seeds: 1 });
    // the soak's secret hunt, over every file of the bundle
    for (const entry of entries) {
      const text = Buffer.from(entry.data).toString('latin1');
      expect(findSecrets(text, entry.path)).toEqual([]);
      expect(text).not.toContain(REDIS_PASSWORD);
      expect(text).not.toContain(KEY_HEX);
    }
    // the same out dir gives the same bundle bytes (before encryption)
    expect(packBundle(out, { settings: settings() }).body.equals(bundle.body)).toBe(true);
  });

  it('a bundle refuses a file that holds a configured secret value, naming file and setting only', () => {
    const leaky = join(work, 'leaky');
    mkdirSync(leaky);
    copyFileSync(join(out, 'result.json'), join(leaky, 'result.json'));
    const text = readFileSync(join(leaky, 'result.json'), 'utf8');
    writeFileSync(
      join(leaky, 'result.json'),
      text.replace('"kind"', `"note": "${SECRETS.ADMIN_API_TOKEN}",\n  "kind"`),
    );
    let error: unknown;
    try {
      packBundle(leaky, { settings: settings() });
    } catch (e) {
      error = e;
    }
    expect(isSapphireError(error, 'CLI_USAGE')).toBe(true);
    expect((error as Error).message).toMatch(/result\.json contains the value of ADMIN_API_TOKEN/);
    expect((error as Error).message).not.toContain(SECRETS.ADMIN_API_TOKEN);
  });

  it('verify: the bundle re-runs to a byte-identical result.json', async () => {
    const outcome = await verifyBundle(packBundle(out, { settings: settings() }).body);
    expect(outcome.difference).toBeNull();
    expect(outcome.identical).toBe(true);
  });

  it('verify repeats the run options result.json records (--seeds, --close-at-end)', async () => {
    const seeded = join(work, 'bt-seeds');
    const code = await silently(() =>
      backtest(['--quiet', '--seeds', '2', '--close-at-end', '--data', dataCopy, '--out', seeded, '--dotenv', envFile]),
    );
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(join(seeded, 'result.json'), 'utf8')) as { run: unknown; seeds?: unknown };
    expect(doc.run).toMatchObject({ closeAtEnd: true, seeds: 2 });
    expect(doc.seeds).toBeDefined();
    const outcome = await verifyBundle(packBundle(seeded, { settings: settings() }).body);
    expect(outcome.difference).toBeNull();
    expect(outcome.identical).toBe(true);
  });

  it('verify: data altered after the run is reported with the first differing figure', async () => {
    const altered = join(work, 'altered');
    mkdirSync(altered);
    copyFileSync(join(out, 'result.json'), join(altered, 'result.json'));
    const before = readFileSync(join(dataCopy, 'BTCUSDT-5m-2025-01-28.csv'));
    alterData(dataCopy);
    try {
      const outcome = await verifyBundle(packBundle(altered, { settings: settings() }).body);
      expect(outcome.identical).toBe(false);
      const d = outcome.difference!;
      expect(d.path).toMatch(/^\$\.[a-zA-Z]/);
      expect(d.bundled).not.toEqual(d.rerun);
    } finally {
      writeFileSync(join(dataCopy, 'BTCUSDT-5m-2025-01-28.csv'), before);
    }
  });

  it('firstDifference names the JSON path and both values, in document order', () => {
    expect(firstDifference({ a: 1, b: { c: [1, 2, 3] } }, { a: 1, b: { c: [1, 5, 4] } })).toEqual({
      path: '$.b.c[1]',
      bundled: 2,
      rerun: 5,
    });
    expect(firstDifference({ x: [1] }, { x: [1, 2] })).toEqual({ path: '$.x[1]', bundled: undefined, rerun: 2 });
    expect(firstDifference({ 'a-b': 1 }, { 'a-b': 1 })).toBeNull();
  });
});

describe('sapphire verify (CLI against the loopback Walrus peer)', { timeout: 400_000 }, () => {
  it('0 for an identical re-run, 1 with the first difference for altered data, 2 for a wrong key', async () => {
    const env = { WALRUS_PUBLISHER_URL: peer.url, WALRUS_AGGREGATOR_URL: peer.url };
    const put = await sapphire(['archive', 'put', out, '--bundle', '--dotenv', envFile], env, ROOT);
    expect(put.code, put.stderr).toBe(0);
    const blobId = put.stdout.trim();
    expect(put.stderr).toMatch(/bundle, \d+ bytes, encrypted with aes-256-gcm/);
    // the stored blob is encrypted, and holds no secret once decrypted
    const opened = await openBlob(peer.blobs.get(blobId)!, [aesGcmProvider(parseArchiveKey(KEY_HEX))]);
    expect(opened.content).toBe('bundle');
    for (const e of untarGz(opened.plain))
      expect(findSecrets(Buffer.from(e.data).toString('latin1'), e.path)).toEqual([]);

    const ok = await sapphire(['verify', blobId, '--dotenv', envFile], env, ROOT);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/identical: the re-run wrote the same result\.json, byte for byte/);

    const wrongKey = await sapphire(
      ['verify', blobId, '--dotenv', envFile],
      { ...env, ARCHIVE_KEY: randomBytes(32).toString('hex') },
      ROOT,
    );
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/ARCHIVE_REFUSED/);

    // a bundle whose data no longer gives its result: stored through the library, verified by the CLI
    const altered = join(work, 'altered-cli');
    mkdirSync(altered);
    copyFileSync(join(out, 'result.json'), join(altered, 'result.json'));
    const before = readFileSync(join(dataCopy, 'BTCUSDT-5m-2025-01-28.csv'));
    alterData(dataCopy);
    let alteredId: string;
    try {
      const packed = packBundle(altered, { settings: settings() });
      const stored = await putPacked(altered, packed, {
        publisherUrl: peer.url,
        epochs: 1,
        protection: aesGcmProvider(parseArchiveKey(KEY_HEX)),
      });
      alteredId = stored.record.blobId;
    } finally {
      writeFileSync(join(dataCopy, 'BTCUSDT-5m-2025-01-28.csv'), before);
    }
    const differs = await sapphire(['verify', alteredId, '--dotenv', envFile], env, ROOT);
    expect(differs.code, differs.stderr).toBe(1);
    expect(differs.stdout).toMatch(/different: first difference at \$\.\S+: bundled .+, re-run .+/);

    const missing = await sapphire(['verify', 'C'.repeat(43), '--dotenv', envFile], env, ROOT);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/aggregator answered 404/);
  });
});
