import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SapphireError } from '../pipelines/errors.ts';
import { parseSettings, withOverrides, type Settings } from '../pipelines/settings.ts';
import { loadDatasetReport } from '../backtests/data/index.ts';
import { DEFAULT_RUN, runRecordedBacktest } from '../backtests/recorded-run.ts';
import { resultJson } from '../backtests/report/write-results.ts';
import { BundleManifest, MANIFEST_FILE, packageLockHash, sha256 } from './bundle.ts';
import { untarGz, type TarEntry } from './tar.ts';

/**
 * `sapphire verify`: opens a research bundle, checks every file against the manifest's SHA-256,
 * re-runs the backtest with the real runner (runBacktest) on the bundled data and inputs, renders
 * result.json the way `sapphire backtest` does, and compares the bytes. Otherwise it names the
 * first differing figure by JSON path, with both values.
 */

export interface Difference {
  /** JSON path, e.g. $.metrics.sharpe or $.trades[3].exitPrice */
  path: string;
  bundled: unknown;
  rerun: unknown;
}

export interface VerifyOutcome {
  identical: boolean;
  difference: Difference | null;
  /** things that may explain a difference (another package lock, another Node) */
  notes: string[];
}

interface Opened {
  manifest: BundleManifest;
  files: Map<string, Buffer>;
}

/** Reads a bundle's files and checks each against the manifest. */
export function openBundle(bytes: Buffer): Opened {
  let entries: TarEntry[];
  try {
    entries = untarGz(bytes);
  } catch (error) {
    throw new SapphireError('ARCHIVE_REFUSED', `the blob is not a research bundle: ${(error as Error).message}`);
  }
  const files = new Map(entries.map((e) => [e.path, Buffer.from(e.data)]));
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) {
    throw new SapphireError(
      'ARCHIVE_REFUSED',
      `the blob has no ${MANIFEST_FILE}: not a research bundle (archive put --bundle)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    throw new SapphireError('ARCHIVE_REFUSED', `${MANIFEST_FILE} is not JSON`);
  }
  const parsed = BundleManifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SapphireError(
      'ARCHIVE_REFUSED',
      `${MANIFEST_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  for (const digest of parsed.data.files) {
    const data = files.get(digest.path);
    if (!data) throw new SapphireError('ARCHIVE_REFUSED', `the bundle lacks ${digest.path}, which its manifest lists`);
    if (sha256(data) !== digest.sha256) {
      throw new SapphireError('ARCHIVE_REFUSED', `${digest.path} does not match its SHA-256 in ${MANIFEST_FILE}`);
    }
  }
  if (!files.has('result.json')) throw new SapphireError('ARCHIVE_REFUSED', 'the bundle has no result.json');
  return { manifest: parsed.data, files };
}

/** The first place two JSON values differ, in document order. */
export function firstDifference(bundled: unknown, rerun: unknown, path = '$'): Difference | null {
  if (Array.isArray(bundled) && Array.isArray(rerun)) {
    for (let i = 0; i < Math.max(bundled.length, rerun.length); i++) {
      if (i >= bundled.length || i >= rerun.length)
        return { path: `${path}[${i}]`, bundled: bundled[i], rerun: rerun[i] };
      const d = firstDifference(bundled[i], rerun[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(bundled) && isObject(rerun)) {
    const keys = [...Object.keys(bundled), ...Object.keys(rerun).filter((k) => !(k in bundled))];
    for (const key of keys) {
      const childPath = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      const d = firstDifference(bundled[key], rerun[key], childPath);
      if (d) return d;
    }
    return null;
  }
  return Object.is(bundled, rerun) ? null : { path, bundled, rerun };
}

/** Writes the bundle's files under a private temporary folder (removed by the caller). */
function extract(files: Map<string, Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'sapphire-verify-'));
  for (const [path, data] of files) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, data);
  }
  return root;
}

interface ResultDocument {
  dataDir: string;
  window: { from: string | null; to: string | null };
  settings: Record<string, unknown>;
}

/** The settings result.json records (redacted values stand in for secrets: a backtest reads none). */
function recordedSettings(doc: ResultDocument): Settings {
  return parseSettings(doc.settings, { source: 'the bundled result.json' });
}

async function rerun(opened: Opened, root: string, doc: ResultDocument): Promise<string> {
  const { manifest } = opened;
  const run = manifest.run ?? DEFAULT_RUN;
  const reported = recordedSettings(doc);
  const input = (name: string) => {
    const ref = manifest.inputs.find((i) => i.name === name);
    return ref ? join(root, ref.path) : undefined;
  };
  // the run reads the bundled copies; result.json keeps naming the paths the original run used
  const paths: Record<string, unknown> = {};
  for (const name of ['AGENT_TAPE', 'LEVERAGE_BRACKETS_FILE'] as const) {
    const path = input(name);
    if (path !== undefined) paths[name] = path;
  }
  const settings = withOverrides(reported, paths, 'the bundle');
  const from = doc.window.from === null ? undefined : Date.parse(doc.window.from);
  const to = doc.window.to === null ? undefined : Date.parse(doc.window.to);
  const dataDir = manifest.data.singleFile
    ? join(root, manifest.files.find((f) => f.path.startsWith('data/'))!.path)
    : join(root, 'data');
  const { series } = await loadDatasetReport({ dir: dataDir, symbols: settings.SYMBOLS, to, allowGaps: true });
  const { result, seeds } = await runRecordedBacktest({ settings, series, from, to, run, inputPath: input });
  return resultJson(result, {
    dataDir: doc.dataDir,
    settings: reported,
    from,
    to,
    seeds,
    ...(manifest.run ? { run: manifest.run } : {}),
  });
}

/** Re-runs a bundle and compares its result.json byte for byte. */
export async function verifyBundle(bytes: Buffer): Promise<VerifyOutcome> {
  const opened = openBundle(bytes);
  const bundledText = opened.files.get('result.json')!.toString('utf8');
  const doc = JSON.parse(bundledText) as ResultDocument;
  const notes: string[] = [];
  const lock = packageLockHash();
  if (opened.manifest.made.packageLockSha256 !== lock) {
    notes.push('the bundle was made with another package-lock.json (other code or dependencies)');
  }
  if (opened.manifest.made.node !== process.version) {
    notes.push(`the bundle was made with Node ${opened.manifest.made.node}, this is ${process.version}`);
  }
  if (opened.manifest.run === null) notes.push('result.json has no run block: default backtest options assumed');
  const root = extract(opened.files);
  try {
    const rerunText = await rerun(opened, root, doc);
    if (rerunText === bundledText) return { identical: true, difference: null, notes };
    const difference = firstDifference(doc, JSON.parse(rerunText)) ?? {
      path: '$',
      bundled: `${bundledText.length} bytes`,
      rerun: `${rerunText.length} bytes (same values, other formatting)`,
    };
    return { identical: false, difference, notes };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
