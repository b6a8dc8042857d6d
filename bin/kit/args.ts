import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SapphireError } from '../../pipelines/errors.ts';

/** util.parseArgs with errors that name the flag, as CLI_USAGE errors (exit 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new SapphireError('CLI_USAGE', `${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
  }
}

/** `NAME=VALUE` words (after the flags) become setting overrides. */
export function overridesFrom(positionals: readonly string[], usage: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of positionals) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!m)
      throw new SapphireError(
        'CLI_USAGE',
        `unexpected argument ${JSON.stringify(word)}: settings are NAME=VALUE\n\n${usage}`,
      );
    out[m[1]!] = m[2]!;
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
