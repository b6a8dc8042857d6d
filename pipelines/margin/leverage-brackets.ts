import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SapphireError } from '../errors.ts';
import { parseLeverageBrackets, type BracketTable } from './margin.kernel.ts';

/** The shipped table (see PROVENANCE.md beside it). */
export const SHIPPED_BRACKETS_FILE = fileURLToPath(new URL('./leverage-brackets.json', import.meta.url));

const cache = new Map<string, BracketTable>();

/**
 * The leverage brackets to margin with: `file` (a saved `/fapi/v1/leverageBracket` reply, as set by
 * LEVERAGE_BRACKETS_FILE), or the shipped table when empty. Read once per file.
 */
export function leverageBrackets(file = ''): BracketTable {
  const path = file === '' ? SHIPPED_BRACKETS_FILE : file;
  let t = cache.get(path);
  if (t === undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new SapphireError(
        'SETTINGS_INVALID',
        `LEVERAGE_BRACKETS_FILE ${path} cannot be read: ${(e as Error).message}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch (e) {
      throw new SapphireError(
        'SETTINGS_INVALID',
        `LEVERAGE_BRACKETS_FILE ${path} is not JSON: ${(e as Error).message}`,
      );
    }
    t = parseLeverageBrackets(json, path);
    cache.set(path, t);
  }
  return t;
}
