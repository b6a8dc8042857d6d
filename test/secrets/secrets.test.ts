import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { parseSettings, withOverrides, DEFAULT_SETTINGS } from '../../pipelines/settings.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import {
  SECRET_NAMES,
  describeSecrets,
  envSecretsProvider,
  gcpSecretsProvider,
  resolveSecrets,
  secretsProviderFor,
  type SecretManagerClientLike,
} from '../../secrets/index.ts';

/** An object of the library's shape: records requests, answers from a table (the library itself is external). */
function fakeClient(table: Record<string, string | Uint8Array | Error>) {
  const requests: string[] = [];
  const client: SecretManagerClientLike = {
    accessSecretVersion(request) {
      requests.push(request.name);
      const entry = table[request.name];
      if (entry instanceof Error) return Promise.reject(entry);
      if (entry === undefined)
        return Promise.reject(Object.assign(new Error(`5 NOT_FOUND: ${request.name}`), { code: 5 }));
      return Promise.resolve([{ name: request.name, payload: { data: entry } }, undefined, undefined]);
    },
  };
  return { client, requests };
}

const path = (name: string) => `projects/sapphire-prod/secrets/${name}/versions/latest`;

describe('env secrets provider', () => {
  it('is the default and keeps what the environment gave', async () => {
    const settings = parseSettings({ ASTER_API_KEY: 'k-env', ADMIN_API_TOKEN: 't-env' });
    const provider = secretsProviderFor(settings);
    expect(provider.kind).toBe('env');
    const resolved = await resolveSecrets(settings, provider);
    expect(resolved.ASTER_API_KEY).toBe('k-env');
    expect(resolved.ADMIN_API_TOKEN).toBe('t-env');
    expect(resolved.TELEGRAM_BOT_TOKEN).toBe('');
    expect(await envSecretsProvider(settings).get('ASTER_SECRET_KEY')).toBeUndefined();
  });

  it('covers every secret setting name', () => {
    expect([...SECRET_NAMES].sort()).toEqual(
      [
        'ADMIN_API_TOKEN',
        'ARCHIVE_KEY',
        'ASTER_API_KEY',
        'ASTER_SECRET_KEY',
        'ASTER_SIGNER_PRIVATE_KEY',
        'FINGPT_API_KEY',
        'FINGPT_HEADERS',
        'LAGLLAMA_API_KEY',
        'TELEGRAM_BOT_TOKEN',
      ].sort(),
    );
  });
});

describe('gcp secrets provider', () => {
  it('reads projects/P/secrets/NAME/versions/latest, fills empty secrets, env values win', async () => {
    const { client, requests } = fakeClient({
      [path('ASTER_API_KEY')]: 'from-gcp-api-key',
      [path('ASTER_SECRET_KEY')]: new TextEncoder().encode('from-gcp-secret\n'),
      [path('ADMIN_API_TOKEN')]: 'gcp-token-should-not-win',
      [path('TELEGRAM_BOT_TOKEN')]: Buffer.from('123:abc', 'utf8'),
    });
    const settings = parseSettings({
      SECRETS_PROVIDER: 'gcp',
      GCP_PROJECT: 'sapphire-prod',
      ADMIN_API_TOKEN: 'env-token',
    });
    const resolved = await resolveSecrets(settings, secretsProviderFor(settings, { client }));
    expect(resolved.ASTER_API_KEY).toBe('from-gcp-api-key');
    expect(resolved.ASTER_SECRET_KEY).toBe('from-gcp-secret'); // one trailing newline dropped
    expect(resolved.TELEGRAM_BOT_TOKEN).toBe('123:abc');
    expect(resolved.ADMIN_API_TOKEN).toBe('env-token');
    expect(resolved.ASTER_SIGNER_PRIVATE_KEY).toBe(''); // not found = stays empty
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolved.SYMBOLS).toEqual(settings.SYMBOLS);
    // ADMIN_API_TOKEN was set by env, so it was never asked for
    expect(requests).not.toContain(path('ADMIN_API_TOKEN'));
    expect(new Set(requests)).toEqual(new Set(SECRET_NAMES.filter((n) => n !== 'ADMIN_API_TOKEN').map((n) => path(n))));
    expect(describeSecrets(resolved)).toMatchObject({ ASTER_API_KEY: 'set', ASTER_SIGNER_PRIVATE_KEY: 'unset' });
  });

  it('caches: each secret is fetched once, also with concurrent callers', async () => {
    const { client, requests } = fakeClient({ [path('ASTER_API_KEY')]: 'v1' });
    const provider = gcpSecretsProvider({ project: 'sapphire-prod', client });
    const values = await Promise.all([provider.get('ASTER_API_KEY'), provider.get('ASTER_API_KEY')]);
    expect(values).toEqual(['v1', 'v1']);
    expect(await provider.get('ASTER_API_KEY')).toBe('v1');
    expect(requests).toEqual([path('ASTER_API_KEY')]);
  });

  it('a failure names the secret and reason, never the library text or a value, and is retried', async () => {
    const secretValue = 'super-secret-value-0xdeadbeef';
    let fail = true;
    const requests: string[] = [];
    const client: SecretManagerClientLike = {
      accessSecretVersion(request) {
        requests.push(request.name);
        if (fail) {
          return Promise.reject(Object.assign(new Error(`7 PERMISSION_DENIED: leaked ${secretValue}`), { code: 7 }));
        }
        return Promise.resolve([{ payload: { data: secretValue } }]);
      },
    };
    const provider = gcpSecretsProvider({ project: 'sapphire-prod', client });
    const error = await provider.get('ASTER_SECRET_KEY').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSapphireError(error, 'SECRETS_UNAVAILABLE')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(path('ASTER_SECRET_KEY'));
    expect(message).toContain('permission denied');
    expect(message).not.toContain(secretValue);
    expect(message).not.toContain('leaked');
    fail = false;
    expect(await provider.get('ASTER_SECRET_KEY')).toBe(secretValue);
    expect(requests).toHaveLength(2);
  });

  it('resolveSecrets propagates a provider failure (start-up must stop, not run without secrets)', async () => {
    const { client } = fakeClient({ [path('ASTER_API_KEY')]: Object.assign(new Error('x'), { code: 16 }) });
    const settings = parseSettings({ SECRETS_PROVIDER: 'gcp', GCP_PROJECT: 'sapphire-prod' });
    await expect(resolveSecrets(settings, secretsProviderFor(settings, { client }))).rejects.toThrow(
      /SECRETS_UNAVAILABLE: .*ASTER_API_KEY.*unauthenticated/,
    );
  });

  it('gcp without GCP_PROJECT or with a malformed project is a settings error', () => {
    const noProject = withOverrides(DEFAULT_SETTINGS, { SECRETS_PROVIDER: 'gcp' });
    expect(() => secretsProviderFor(noProject)).toThrow(/SETTINGS_INVALID: SECRETS_PROVIDER=gcp needs GCP_PROJECT/);
    expect(() => gcpSecretsProvider({ project: 'Bad_Project!' })).toThrow(/SETTINGS_INVALID/);
  });

  it("the library's real client fits the shape this provider calls (checked by tsc)", () => {
    const fits = (c: SecretManagerServiceClient): SecretManagerClientLike => c;
    expect(typeof fits).toBe('function');
    expect(typeof SecretManagerServiceClient.prototype.accessSecretVersion).toBe('function');
  });
});

describe('gcp secrets provider with the real Google library', () => {
  it('without usable credentials: a clean SECRETS_UNAVAILABLE, no crash from the library', () => {
    // own process: the credentials variable must not leak into other tests; the path does not
    // exist, so the library fails reading it before any network request
    const root = resolve(import.meta.dirname, '../..');
    const script = `
      import { gcpSecretsProvider } from ${JSON.stringify(pathToFileURL(join(root, 'secrets/index.ts')).href)};
      const provider = gcpSecretsProvider({ project: 'sapphire-test-0' });
      for (const attempt of [1, 2]) {
        await provider.get('ASTER_API_KEY').then(
          () => console.log('unexpected value'),
          (e) => console.log('attempt', attempt, e.message),
        );
      }
      await new Promise((r) => setTimeout(r, 200)); // let any stray rejection surface
      console.log('still alive');`;
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        '--input-type=module',
        '-e',
        script,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/sapphire-test/creds.json' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^attempt 1 SECRETS_UNAVAILABLE: no usable Google credentials/),
      expect.stringMatching(/^attempt 2 SECRETS_UNAVAILABLE: no usable Google credentials/),
      'still alive',
    ]);
  });
});
