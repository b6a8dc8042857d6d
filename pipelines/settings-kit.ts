import { z } from 'zod';

/**
 * Builders for settings read from text (environment, .env). Each carries its trading meaning as
 * the zod description, which the README's configuration table is generated from.
 * Empty values never reach these: the loader treats `NAME=` as unset (the default applies).
 */

function toNumber(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === '') return v;
  const n = Number(t);
  return Number.isFinite(n) ? n : v;
}

function toBoolean(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  return v;
}

/** "A,B" or '["A","B"]' → ['A','B'] (trimmed, no empties) */
function toList(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return v; // the array schema then reports "expected array, received string"
    }
  }
  return t
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export const num = (def: number, min: number, max: number, doc: string) =>
  z.preprocess(toNumber, z.number().min(min).max(max)).default(def).describe(doc);

/** like num but the lower bound is exclusive (a fraction that must be > 0) */
export const positive = (def: number, max: number, doc: string) =>
  z.preprocess(toNumber, z.number().positive().max(max)).default(def).describe(doc);

export const int = (def: number, min: number, max: number, doc: string) =>
  z.preprocess(toNumber, z.number().int().min(min).max(max)).default(def).describe(doc);

export const bool = (def: boolean, doc: string) => z.preprocess(toBoolean, z.boolean()).default(def).describe(doc);

export const str = (def: string, doc: string, pattern?: { regex: RegExp; rule: string }) =>
  (pattern ? z.string().regex(pattern.regex, pattern.rule) : z.string()).default(def).describe(doc);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, def: T[number], doc: string) =>
  z
    .enum(values)
    .default(def as never)
    .describe(doc);

export const symbolList = (def: readonly string[], doc: string) =>
  z
    .preprocess(
      toList,
      z.array(
        z
          .string()
          .regex(/^[A-Z0-9]{2,20}$/, 'symbols are upper-case letters and digits, e.g. BTCUSDT')
          .describe('symbol'),
      ),
    )
    .default([...def])
    .describe(doc);

/** A URL setting that may be empty (= not configured). */
export const optionalUrl = (doc: string) =>
  z
    .union([z.literal(''), z.url({ protocol: /^(https?|wss?|redis|rediss)$/ })])
    .default('')
    .describe(doc);

/** Settings whose values must never appear in logs, responses, telemetry or reports. */
export const SECRET_SETTING_NAMES = [
  'ASTER_API_KEY',
  'ASTER_SECRET_KEY',
  'ASTER_SIGNER_PRIVATE_KEY',
  'ADMIN_API_TOKEN',
  'TELEGRAM_BOT_TOKEN',
  'FINGPT_API_KEY',
  'FINGPT_HEADERS',
  'LAGLLAMA_API_KEY',
  'ARCHIVE_KEY',
] as const;
