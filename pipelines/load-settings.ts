import { existsSync, readFileSync } from 'node:fs';
import { SapphireError } from './errors.ts';
import { isSecretName, redactText } from '../secrets/redact.ts';
import { parseSettings, type Settings } from './settings.ts';

/**
 * Parses `.env` text: `NAME=value`, optional `export `, `#` comments, single or double quotes
 * (double quotes understand \n, \" and \\). A line that is none of these is an error naming the
 * file and line, never silently skipped.
 */
export function parseEnvFile(text: string, fileName: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      throw new SapphireError(
        'ENV_FILE_INVALID',
        `${fileName}:${i + 1}: expected NAME=value, got ${JSON.stringify(shownLine(line))}`,
      );
    }
    const name = m[1]!;
    let value = m[2]!;
    if (value.startsWith('"')) {
      const end = findClosingQuote(value);
      if (end < 0)
        throw new SapphireError('ENV_FILE_INVALID', `${fileName}:${i + 1}: ${name} has an unterminated double quote`);
      const rest = value.slice(end + 1).trim();
      if (rest !== '' && !rest.startsWith('#'))
        throw new SapphireError('ENV_FILE_INVALID', `${fileName}:${i + 1}: ${name} has text after the closing quote`);
      value = value.slice(1, end).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    } else if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0)
        throw new SapphireError('ENV_FILE_INVALID', `${fileName}:${i + 1}: ${name} has an unterminated single quote`);
      value = value.slice(1, end);
    } else {
      // unquoted: an inline comment starts at " #"
      const hash = value.search(/\s#/);
      if (hash >= 0) value = value.slice(0, hash);
      value = value.trim();
    }
    values.set(name, value);
  }
  return values;
}

/** A malformed line as it may be echoed: a secret-named line shows its name only. */
function shownLine(line: string): string {
  const name = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)/.exec(line)?.[1];
  if (name !== undefined && isSecretName(name)) return `${name} … (value hidden)`;
  return redactText(line).slice(0, 60);
}

function findClosingQuote(value: string): number {
  for (let i = 1; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '"') return i;
  }
  return -1;
}

export interface LoadSettingsOptions {
  /** defaults to process.env */
  env?: Record<string, string | undefined>;
  /** defaults to `.env` in the working directory; missing file = no values */
  envFile?: string | null;
  /** explicit values that win over both (command-line overrides) */
  overrides?: Record<string, unknown>;
  /** a command's own defaults: used only when no source above sets the name */
  defaults?: Record<string, unknown>;
}

/**
 * The one place that reads the environment. Precedence: overrides, then the environment, then
 * `.env`, then defaults. Returns frozen settings or throws naming variable, value and rule.
 */
export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  const envFile = options.envFile === undefined ? '.env' : options.envFile;
  const merged = rawSettingValues(options);
  const sources = [options.overrides && 'command line', 'environment', envFile && existsSync(envFile) ? envFile : null]
    .filter(Boolean)
    .join(', ');
  return parseSettings(merged, { source: sources });
}

/**
 * The raw values loadSettings reads, merged with the same precedence, unvalidated: for settings
 * that are not in the root schema (a strategy file's own, parsed by its schema).
 */
export function rawSettingValues(options: LoadSettingsOptions = {}): Record<string, unknown> {
  const envFile = options.envFile === undefined ? '.env' : options.envFile;
  const merged: Record<string, unknown> = { ...options.defaults };
  if (envFile && existsSync(envFile)) {
    for (const [k, v] of parseEnvFile(readFileSync(envFile, 'utf8'), envFile)) merged[k] = v;
  }
  for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) merged[k] = v;
  Object.assign(merged, options.overrides ?? {});
  return merged;
}
