import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseEnvFile } from '../pipelines/load-settings.ts';
import { SapphireError } from '../pipelines/errors.ts';

export interface EnvWriteResult {
  path: string;
  /** `.env.bak` (latest) and a timestamped copy, when there was a file to back up */
  backups: string[];
  changed: string[];
  added: string[];
}

export interface EnvWriteOptions {
  /** header comment above keys that were not in the file yet */
  note?: string;
  /** time for the backup's name (default now) */
  now?: Date;
  /** tests: runs after the temp file is written, before the rename */
  beforeRename?: () => void;
}

/** A value as an unquoted .env word when safe, else double-quoted with escapes. */
export function formatEnvValue(v: string | number | boolean): string {
  const s = String(v);
  if (/^[A-Za-z0-9_.,:/@+-]*$/.test(s)) return s;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const LINE = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$/;

/** The inline comment of an unquoted value line (`NAME=1  # note` → `  # note`), kept on rewrite. */
function inlineComment(rest: string): string {
  if (rest.startsWith('"') || rest.startsWith("'")) {
    const q = rest[0]!;
    for (let i = 1; i < rest.length; i++) {
      if (q === '"' && rest[i] === '\\') i++;
      else if (rest[i] === q) {
        const after = rest.slice(i + 1);
        return /^\s*#/.test(after) ? after : '';
      }
    }
    return '';
  }
  const hash = rest.search(/\s#/);
  return hash >= 0 ? rest.slice(hash) : '';
}

/**
 * Writes `values` into a .env file, changing only those keys (every occurrence, in place, with
 * its `export` prefix and inline comment) and appending the missing ones; every other line and
 * comment is kept byte for byte. The old file is copied to `.env.bak` and a timestamped backup,
 * the new one is written to a temp file, fsynced and renamed over: a crash leaves the old file.
 */
/**
 * The file a path's contents live in: a symlinked `.env` (dotfiles repos, mounted secrets) is
 * followed to its target, so the rename below replaces the target and the link stays a link.
 */
function linkTarget(path: string): string {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return path; // no file yet: it is created where asked
  }
  if (!stat.isSymbolicLink()) return path;
  if (existsSync(path)) return realpathSync(path);
  return resolve(dirname(path), readlinkSync(path)); // a dangling link: create its target
}

export function writeEnvValues(
  asked: string,
  values: Record<string, string | number | boolean>,
  options: EnvWriteOptions = {},
): EnvWriteResult {
  const path = linkTarget(asked);
  const exists = existsSync(path);
  const original = exists ? readFileSync(path, 'utf8') : '';
  if (exists) parseEnvFile(original, path); // refuse to rewrite a file we cannot read back
  const eol = original.includes('\r\n') ? '\r\n' : '\n';
  const lines = original === '' ? [] : original.split(/\r?\n/);
  const trailingNewline = original === '' || original.endsWith('\n');
  if (trailingNewline && lines.length > 0 && lines.at(-1) === '') lines.pop();

  const changed: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*#/.test(line)) continue;
    const m = LINE.exec(line);
    if (!m || !(m[2]! in values)) continue;
    const name = m[2]!;
    lines[i] = `${m[1]}${name}${m[3]}${formatEnvValue(values[name]!)}${inlineComment(m[4]!)}`;
    seen.add(name);
    if (!changed.includes(name)) changed.push(name);
  }
  const added = Object.keys(values).filter((k) => !seen.has(k));
  if (added.length > 0) {
    if (lines.length > 0 && lines.at(-1)!.trim() !== '') lines.push('');
    if (options.note) lines.push(`# ${options.note}`);
    for (const k of added) lines.push(`${k}=${formatEnvValue(values[k]!)}`);
  }
  const text = lines.join(eol) + (trailingNewline || added.length > 0 ? eol : '');
  parseEnvFile(text, `${path} (new)`); // what we write must read back

  const backups: string[] = [];
  if (exists) {
    const stamp = (options.now ?? new Date())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    for (const b of [`${path}.bak`, `${path}.bak.${stamp}`]) {
      copyFileSync(path, b);
      backups.push(b);
    }
  }
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'w', exists ? statSync(path).mode & 0o777 : 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    options.beforeRename?.();
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    if (error instanceof SapphireError) throw error;
    throw new SapphireError(
      'ENV_FILE_INVALID',
      `${path}: could not write (${(error as Error).message}); the old file is unchanged`,
    );
  }
  return { path, backups, changed, added };
}
