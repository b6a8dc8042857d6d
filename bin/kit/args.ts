import { existsSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SapphireError } from '../../pipelines/errors.ts';
import { SETTING_NAMES } from '../../pipelines/settings.ts';
import { didYouMean } from './did-you-mean.ts';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** The flag a word names: `--out=x` → `out`, `-h` → `h`; undefined for a non-flag word. */
function flagName(word: string): string | undefined {
  if (word.startsWith('--') && word.length > 2) return word.slice(2).split('=')[0];
  if (word.startsWith('-') && word.length > 1 && !/^-\d/.test(word)) return word.slice(1, 2);
  return undefined;
}

/** Why parseArgs refused argv, in the project's words (flag named, did-you-mean for typos). */
function explain(argv: string[], options: FlagOptions): string | undefined {
  const longNames = Object.keys(options);
  const shortNames = Object.values(options).flatMap((o) => (o.short ? [o.short] : []));
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') break;
    const name = flagName(word);
    if (name === undefined) continue;
    const long = word.startsWith('--');
    const option = long ? options[name] : Object.values(options).find((o) => o.short === name);
    if (!option) {
      const shown = long ? `--${name}` : `-${name}`;
      return `unknown option ${shown}${didYouMean(name, long ? longNames : shortNames, (c) => (long ? `--${c}` : `-${c}`))}`;
    }
    const label = long ? `--${name}` : `-${name}`;
    if (option.type === 'boolean' && long && word.includes('=')) return `${label} takes no value`;
    if (option.type === 'string' && !word.includes('=')) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next)))
        return `${label} needs a value`;
      i++;
    }
  }
  return undefined;
}

/**
 * util.parseArgs with errors that name the flag (CLI_USAGE, exit ≠ 0): unknown flags get a
 * did-you-mean, and a `--dotenv FILE` that does not exist is refused rather than ignored.
 */
export function parseFlags<T extends FlagOptions>(argv: string[], options: T, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const why = explain(argv, options) ?? (error instanceof Error ? error.message : String(error));
    throw new SapphireError('CLI_USAGE', `${why}\n\n${usage}`);
  }
  const dotenv = (parsed.values as Record<string, unknown>).dotenv;
  if (typeof dotenv === 'string') requireSettingsFile(dotenv);
  return parsed;
}

/** An explicitly named settings file must exist and be a file: a typo is an error, never "no settings". */
export function requireSettingsFile(path: string): void {
  if (!existsSync(path))
    throw new SapphireError('CLI_USAGE', `--dotenv ${path}: no such file (without --dotenv, .env is read if present)`);
  if (!statSync(path).isFile()) throw new SapphireError('CLI_USAGE', `--dotenv ${path}: not a file`);
}

/**
 * `NAME=VALUE` words (after the flags) become setting overrides. A name that is no setting is an
 * error with the nearest setting's name, as is a lower-case or misspelt word.
 */
export function overridesFrom(
  positionals: readonly string[],
  usage: string,
  strategyFlag?: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  // a strategy file brings settings of its own: names outside the root schema are then checked by
  // strategiesAtEdge once the file is loaded (bin/kit/strategy-flag.ts), with the same did-you-mean
  const strategies = strategyFlag ?? positionals.find((w) => w.startsWith('STRATEGIES='))?.slice(11) ?? '';
  const namesFile = strategies.split(',').some((n) => /[/\\]|\.[cm]?[jt]s$/.test(n.trim()));
  for (const word of positionals) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!m) {
      const loose = /^([A-Za-z][A-Za-z0-9_-]*)=(.*)$/.exec(word);
      const hint = loose
        ? didYouMean(loose[1]!.toUpperCase().replace(/-/g, '_'), SETTING_NAMES, (c) => `${c}=${loose[2]}`)
        : '';
      throw new SapphireError(
        'CLI_USAGE',
        `unexpected argument ${JSON.stringify(word)}: settings are NAME=VALUE${hint}\n\n${usage}`,
      );
    }
    const name = m[1]!;
    if (!namesFile && !(SETTING_NAMES as readonly string[]).includes(name))
      throw new SapphireError(
        'CLI_USAGE',
        `unknown setting ${name} in ${JSON.stringify(word)}${didYouMean(name, SETTING_NAMES)}; every setting is listed in docs/configuration.md`,
      );
    out[name] = m[2]!;
  }
  return out;
}

/** 2025-01-31 or 2025-01-31T12:00:00Z → epoch ms (UTC); undefined stays undefined. */
export function parseDate(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(ms))
    throw new SapphireError('CLI_USAGE', `--${flag} ${JSON.stringify(value)} is not a date (use YYYY-MM-DD)`);
  return ms;
}
