import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isSecretName,
  redactQueryValues,
  redactSettings,
  redactText,
  redactUrl,
  REDACTED,
} from '../../secrets/redact.ts';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { publicSettings } from '../../backtests/report/write-results.ts';
import { redactedSettings } from '../../dashboard/reports/html-kit.ts';

const PASSWORD = 'hunter2-redis-pass-77';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('the one redaction rule (secrets/redact.ts)', () => {
  it('URL passwords, bare user tokens and credential-like query values are hidden; the rest is kept', () => {
    expect(redactUrl(`redis://user:${PASSWORD}@cache.internal:6379/0`)).toBe('redis://user:***@cache.internal:6379/0');
    expect(redactUrl(`rediss://:${PASSWORD}@cache:6380`)).toBe('rediss://:***@cache:6380');
    expect(redactUrl('https://ghp_tok3n@example.com/x')).toBe('https://***@example.com/x');
    expect(redactUrl('http://h/x?symbol=BTCUSDT&token=abc123&Api_Key=k9&signature=0xfe&limit=5')).toBe(
      'http://h/x?symbol=BTCUSDT&token=***&Api_Key=***&signature=***&limit=5',
    );
    expect(redactUrl('http://127.0.0.1:8080/healthz?limit=5')).toBe('http://127.0.0.1:8080/healthz?limit=5');
    expect(redactQueryValues('/stop?Token=abc&x=1')).toBe('/stop?Token=***&x=***');
  });

  it('free text: URLs inside it, Telegram bot paths and known values', () => {
    const token = '123456:AAbbCCddEEff';
    const text = `POST https://api.telegram.org/bot${token}/sendMessage failed: fetch redis://u:${PASSWORD}@h; echoed ${token}`;
    const out = redactText(text, [token]);
    expect(out).not.toContain(token);
    expect(out).not.toContain(PASSWORD);
    expect(out).toContain('/bot***/sendMessage');
    // short values are not searched for (they would match ordinary text)
    expect(redactText('a b c', ['b'])).toBe('a b c');
  });

  it('secret names: the declared secrets, any KEY/TOKEN/SECRET/PASSWORD word; not SECRETS_PROVIDER', () => {
    for (const name of ['ASTER_SECRET_KEY', 'ADMIN_API_TOKEN', 'ARCHIVE_KEY', 'DB_PASSWORD', 'MY_API_KEY']) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ['SECRETS_PROVIDER', 'REDIS_URL', 'SYMBOLS', 'KELLY_WINDOW']) {
      expect(isSecretName(name), name).toBe(false);
    }
    expect(
      redactSettings({ ARCHIVE_KEY: 'k'.repeat(64), REDIS_URL: `redis://u:${PASSWORD}@h`, SYMBOLS: ['A'] }),
    ).toEqual({ ARCHIVE_KEY: REDACTED, REDIS_URL: 'redis://u:***@h', SYMBOLS: ['A'] });
  });
});

describe('every leak path uses it (each failed on main)', () => {
  it('a settings error does not print a password embedded in REDIS_URL', () => {
    for (const bad of [`redis://user:${PASSWORD}@host:notaport`, `ftp://user:${PASSWORD}@host:6379`]) {
      const message = messageOf(() => loadSettings({ envFile: null, env: { REDIS_URL: bad } }));
      expect(message).toMatch(/REDIS_URL=/);
      expect(message).not.toContain(PASSWORD);
      expect(message).toContain('user:***@host');
    }
  });

  it('a malformed .env line holding a secret is reported by file, line and name, without the value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'archives-redact-'));
    try {
      const file = join(dir, '.env');
      writeFileSync(file, `SYMBOLS=BTCUSDT\nADMIN_API_TOKEN ${PASSWORD}\n`);
      const message = messageOf(() => loadSettings({ envFile: file, env: {} }));
      expect(message).toContain(`${file}:2: expected NAME=value`);
      expect(message).toContain('ADMIN_API_TOKEN');
      expect(message).not.toContain(PASSWORD);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('result.json settings hide secrets and URL passwords (REDIS_URL was written in clear)', () => {
    const settings = parseSettings({ REDIS_URL: `redis://user:${PASSWORD}@host:6379/0`, ADMIN_API_TOKEN: PASSWORD });
    const recorded = JSON.stringify(publicSettings(settings));
    expect(recorded).not.toContain(PASSWORD);
    expect(recorded).toContain('"REDIS_URL":"redis://user:***@host:6379/0"');
    expect(recorded).toContain(`"ADMIN_API_TOKEN":"${REDACTED}"`);
    expect(recorded).toContain('"TELEGRAM_BOT_TOKEN":""');
  });

  it('report.html / tune.html settings use the same rule as result.json', () => {
    const settings = parseSettings({ REDIS_URL: `redis://user:${PASSWORD}@host:6379/0`, ARCHIVE_KEY: PASSWORD });
    const shown = new Map(redactedSettings(settings as unknown as Record<string, unknown>));
    const recorded = publicSettings(settings);
    expect(shown.get('REDIS_URL')).toBe(recorded.REDIS_URL);
    expect(shown.get('ARCHIVE_KEY')).toBe(REDACTED);
    expect(shown.get('SECRETS_PROVIDER')).toBe('env');
    expect([...shown.values()].join(' ')).not.toContain(PASSWORD);
  });
});
