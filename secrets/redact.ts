import { SECRET_SETTING_NAMES } from '../pipelines/settings-kit.ts';

/**
 * The one secret-redaction rule of the product. Everything that can print a setting, a URL or a
 * peer's error text (settings errors, result.json, HTML reports, service logs, Telegram logs, the
 * exchange client, research bundles) goes through these functions, so what counts as secret is
 * decided here only:
 * - a setting named in SECRET_SETTING_NAMES, or any name with a KEY / SECRET / TOKEN / PASSWORD /
 *   PASSPHRASE / PRIVATE / MNEMONIC / CREDENTIAL(S) / SIGNATURE word in it;
 * - the password of a URL (`redis://user:pass@host` → `redis://user:***@host`), or its user part
 *   when it has no password (`https://TOKEN@host`: a bare user part is usually a token);
 * - query values whose parameter name looks like a credential (`?token=`, `&apiKey=`, `signature=`);
 * - a Telegram bot token in an API path (`/bot123:ABC/`);
 * - any value the caller knows to be secret, wherever it appears.
 * The marker never says anything about the value (not its length, not a prefix).
 */
export const REDACTED = '***';

const SECRET_SETTINGS: ReadonlySet<string> = new Set(SECRET_SETTING_NAMES);
const SECRET_WORD =
  /(^|[_\-.])(API_?KEY|KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|PRIVATE|MNEMONIC|CREDENTIALS?|SIGNATURE)([_\-.]|$)/i;
const SECRET_QUERY = /^(.*(key|secret|token|pass|pwd|signature|credential|private|mnemonic|auth).*|sig|sign)$/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*)(?::([^\s/?#@]*))?@/gi;
const QUERY_PAIR = /([?&;])([^=&#\s;?]+)=([^&#\s;]*)/g;
const TELEGRAM_PATH = /\/bot\d+:[^/\s?#]+/g;
/** values shorter than this are not searched for (they would match ordinary text) */
const MIN_KNOWN_VALUE = 6;

/** True when a setting or field of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_SETTINGS.has(name) || SECRET_WORD.test(name);
}

/** A URL (or any text holding URLs) with credentials and secret query values replaced. */
export function redactUrl(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_m, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}${REDACTED}@` : `${scheme}${user}:${REDACTED}@`,
    )
    .replace(QUERY_PAIR, (m, sep: string, name: string) =>
      SECRET_QUERY.test(decodeSafe(name)) ? `${sep}${name}=${REDACTED}` : m,
    );
}

/** Every query value hidden (request logs: a token sent in any parameter must not be kept). */
export function redactQueryValues(url: string): string {
  return redactUrl(url).replace(QUERY_PAIR, (_m, sep: string, name: string) => `${sep}${name}=${REDACTED}`);
}

/**
 * Free text (an error message, a peer's answer, a log line) with URL credentials, secret query
 * values, Telegram bot paths and the given known secret values replaced.
 */
export function redactText(text: string, knownValues: readonly string[] = []): string {
  let out = redactUrl(text).replace(TELEGRAM_PATH, `/bot${REDACTED}`);
  for (const value of knownValues) {
    if (value.length >= MIN_KNOWN_VALUE) out = out.split(value).join(REDACTED);
  }
  return out;
}

/**
 * A setting's value as it may be shown: '' stays '' (unset), a secret-named setting becomes the
 * marker, strings lose URL credentials, lists are redacted item by item.
 */
export function redactSettingValue(name: string, value: unknown): unknown {
  if (value === undefined || value === '') return value;
  if (isSecretName(name)) return REDACTED;
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((v: unknown) => (typeof v === 'string' ? redactUrl(v) : v));
  return value;
}

/** Every setting, redacted (result.json, bundles, reports). Key order is kept. */
export function redactSettings(settings: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings)) out[name] = redactSettingValue(name, value);
  return out;
}

/** The secret values present in settings, for redactText on texts that may echo them. */
export function secretValuesOf(settings: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(settings)
    .filter(([name, value]) => isSecretName(name) && typeof value === 'string' && value !== '')
    .map(([, value]) => value as string);
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
