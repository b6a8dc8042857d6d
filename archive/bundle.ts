import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SapphireError } from '../pipelines/errors.ts';
import type { Settings } from '../pipelines/settings.ts';
import { symbolFromFileName } from '../backtests/data/index.ts';
import { RunBlock } from '../backtests/recorded-run.ts';
import { isSecretName } from '../secrets/redact.ts';
import { collectFiles, tarGz, type TarEntry } from './tar.ts';
import type { ContentKind } from './envelope.ts';

/**
 * A research bundle: what is needed to re-run a backtest and get the same result.json, in one
 * deterministic .tar.gz:
 *   bundle.json          the manifest (below): every file's SHA-256, the run options, the
 *                        package lock's hash and the Node version it was made with
 *   result.json          the result as written (its settings already redacted)
 *   data/…               the bar files of the symbols the run used
 *   inputs/<name>/…      the other files the run read: --funding or FUNDING_CSV, --filters,
 *                        AGENT_TAPE, LEVERAGE_BRACKETS_FILE (each a file or a folder)
 * Nothing secret enters it: result.json carries redacted settings, and every file is searched
 * for the secret values configured here before anything is packed (a hit refuses the bundle).
 */

export const MANIFEST_FILE = 'bundle.json';
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const BAR_FILE = /\.(csv|csv\.gz|parquet)$/i;

const FileDigest = z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number() });

/** Where the bundle keeps an input file the run read, and which setting or flag named it. */
const InputRef = z.strictObject({
  name: z.enum(['funding', 'filters', 'AGENT_TAPE', 'LEVERAGE_BRACKETS_FILE']),
  /** the path as the run was given it (shown, never read by verify) */
  source: z.string(),
  /** bundle path of the file, or of the folder */
  path: z.string(),
});
export type InputRef = z.infer<typeof InputRef>;

export const BundleManifest = z.strictObject({
  kind: z.literal('sapphire-bundle'),
  version: z.literal(1),
  made: z.strictObject({ sapphire: z.string(), node: z.string(), packageLockSha256: z.string().nullable() }),
  /** the data folder (or file) as result.json names it, and whether it was one file */
  data: z.strictObject({ source: z.string(), singleFile: z.boolean() }),
  inputs: z.array(InputRef),
  /** result.json's run block (null: written before run options were recorded; defaults apply) */
  run: RunBlock.nullable(),
  files: z.array(FileDigest),
});
export type BundleManifest = z.infer<typeof BundleManifest>;

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The package lock's hash: the same code and dependencies give the same figures. */
export function packageLockHash(): string | null {
  const lock = join(REPO_ROOT, 'package-lock.json');
  return existsSync(lock) ? sha256(readFileSync(lock)) : null;
}

function sapphireVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

interface ResultDoc {
  dataDir: string;
  symbols: string[];
  settings: Record<string, unknown>;
  run?: unknown;
}

function readResult(dir: string): { bytes: Buffer; doc: ResultDoc } {
  const path = join(dir, 'result.json');
  if (!existsSync(path)) {
    throw new SapphireError(
      'CLI_USAGE',
      `--bundle needs a backtest out folder with result.json; ${path} does not exist`,
    );
  }
  const bytes = readFileSync(path);
  let doc: ResultDoc;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ResultDoc;
  } catch {
    throw new SapphireError('CLI_USAGE', `${path} is not JSON`);
  }
  if ((doc as { kind?: unknown }).kind !== 'sapphire-backtest' || typeof doc.dataDir !== 'string') {
    throw new SapphireError('CLI_USAGE', `${path} is not a sapphire backtest result (kind sapphire-backtest)`);
  }
  return { bytes, doc };
}

/** A path as the run saw it: relative to this working folder, else (shipped files) to the repository. */
function locate(path: string, what: string): string {
  const found = [resolve(path), join(REPO_ROOT, path)].find((p) => existsSync(p));
  if (found === undefined) {
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `${what}=${path}: not found from ${process.cwd()} (run archive put --bundle from the folder the backtest ran in)`,
    );
  }
  return found;
}

/** Files of a file-or-folder input, under `into` in the bundle. */
function inputEntries(path: string, into: string): TarEntry[] {
  if (statSync(path).isDirectory()) {
    return collectFiles(path).map((e) => ({ path: `${into}/${e.path}`, data: e.data }));
  }
  return [{ path: into, data: readFileSync(path) }];
}

function dataEntries(dataDir: string, symbols: readonly string[]): { entries: TarEntry[]; singleFile: boolean } {
  const dir = locate(dataDir, 'dataDir');
  if (!statSync(dir).isDirectory()) {
    return { entries: [{ path: `data/${basename(dir)}`, data: readFileSync(dir) }], singleFile: true };
  }
  const wanted = new Set(symbols);
  const entries = readdirSync(dir)
    .filter((f) => BAR_FILE.test(f) && wanted.has(symbolFromFileName(f)))
    .sort()
    .map((f) => ({ path: `data/${f}`, data: readFileSync(join(dir, f)) }));
  if (entries.length === 0) throw new SapphireError('DATA_NOT_FOUND', `${dir}: no bar files for ${symbols.join(', ')}`);
  return { entries, singleFile: false };
}

function inputsOf(doc: ResultDoc, run: RunBlock | null): { refs: InputRef[]; entries: TarEntry[] } {
  const settings = doc.settings;
  const wanted: { name: InputRef['name']; source: string }[] = [];
  const funding = run?.funding ?? (typeof settings.FUNDING_CSV === 'string' ? settings.FUNDING_CSV : '');
  if (funding !== '') wanted.push({ name: 'funding', source: funding });
  if (run?.filters) wanted.push({ name: 'filters', source: run.filters });
  for (const name of ['AGENT_TAPE', 'LEVERAGE_BRACKETS_FILE'] as const) {
    const value = settings[name];
    if (typeof value === 'string' && value !== '') wanted.push({ name, source: value });
  }
  const refs: InputRef[] = [];
  const entries: TarEntry[] = [];
  for (const { name, source } of wanted) {
    const path = `inputs/${name}/${basename(source)}`;
    entries.push(...inputEntries(locate(source, name), path));
    refs.push({ name, source, path });
  }
  return { refs, entries };
}

/** Refuses the bundle when any file holds a secret value configured on this machine. */
function assertNoSecrets(entries: readonly TarEntry[], settings: Settings): void {
  const secrets = Object.entries(settings).filter(
    (pair): pair is [string, string] => isSecretName(pair[0]) && typeof pair[1] === 'string' && pair[1].length >= 6,
  );
  for (const entry of entries) {
    const text = Buffer.from(entry.data).toString('latin1');
    const hit = secrets.find(([, value]) => text.includes(value));
    if (hit) {
      throw new SapphireError(
        'CLI_USAGE',
        `${entry.path} contains the value of ${hit[0]}: a bundle never carries a secret (nothing was stored)`,
      );
    }
  }
}

/** Packs a backtest out dir as a research bundle (deterministic bytes before encryption). */
export function packBundle(
  outDir: string,
  options: { settings: Settings },
): { body: Buffer; content: ContentKind; files: string[] } {
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) {
    throw new SapphireError('CLI_USAGE', `--bundle needs a backtest out folder; ${outDir} is not a folder`);
  }
  const { bytes, doc } = readResult(outDir);
  const parsedRun = doc.run === undefined ? null : RunBlock.safeParse(doc.run);
  if (parsedRun && !parsedRun.success) {
    throw new SapphireError('CLI_USAGE', `${join(outDir, 'result.json')}: its run block is malformed`);
  }
  const run = parsedRun ? parsedRun.data : null;
  const data = dataEntries(doc.dataDir, doc.symbols);
  const inputs = inputsOf(doc, run);
  const payload: TarEntry[] = [{ path: 'result.json', data: bytes }, ...data.entries, ...inputs.entries];
  assertNoSecrets(payload, options.settings);
  const manifest: BundleManifest = {
    kind: 'sapphire-bundle',
    version: 1,
    made: { sapphire: sapphireVersion(), node: process.version, packageLockSha256: packageLockHash() },
    data: { source: doc.dataDir, singleFile: data.singleFile },
    inputs: inputs.refs,
    run,
    files: payload.map((e) => ({ path: e.path, sha256: sha256(e.data), bytes: e.data.length })),
  };
  const entries = [{ path: MANIFEST_FILE, data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }, ...payload];
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { body: tarGz(entries), content: 'bundle', files: entries.map((e) => e.path) };
}
