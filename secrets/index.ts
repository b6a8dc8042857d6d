import type { Settings } from '../pipelines/settings.ts';
import { SECRET_SETTING_NAMES } from '../pipelines/settings-kit.ts';
import { SapphireError } from '../pipelines/errors.ts';

/**
 * Where secret settings come from. `env` (the default) keeps what the environment and `.env`
 * gave; `gcp` reads Google Secret Manager. Values never appear in a log line or an error message:
 * errors name the secret and the reason only.
 */
export type SecretName = (typeof SECRET_SETTING_NAMES)[number];
export const SECRET_NAMES: readonly SecretName[] = SECRET_SETTING_NAMES;

export interface SecretsProvider {
  /** 'env' or 'gcp', for start-up messages */
  readonly kind: string;
  /** the secret's value, or undefined when the provider has none (never throws for "not found") */
  get(name: SecretName): Promise<string | undefined>;
}

/** The values already loaded from the environment / `.env` (they are part of the settings). */
export function envSecretsProvider(source: Readonly<Record<string, unknown>>): SecretsProvider {
  return {
    kind: 'env',
    get(name) {
      const v = source[name];
      return Promise.resolve(typeof v === 'string' && v !== '' ? v : undefined);
    },
  };
}

/** The part of `SecretManagerServiceClient` we use (the library's own shape). */
export interface SecretManagerClientLike {
  accessSecretVersion(request: {
    name: string;
  }): Promise<[{ payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
}

export interface GcpSecretsOptions {
  project: string;
  /** defaults to a `SecretManagerServiceClient` with application-default credentials */
  client?: SecretManagerClientLike;
  /** Secret Manager secret id for a setting; default: the setting name itself */
  secretId?: (name: SecretName) => string;
  /** version to read; default 'latest' */
  version?: string;
}

const GRPC_NOT_FOUND = 5;
const GRPC_REASONS: Record<number, string> = {
  3: 'invalid argument',
  4: 'deadline exceeded',
  5: 'not found',
  7: 'permission denied (grant roles/secretmanager.secretAccessor)',
  9: 'failed precondition (the version is disabled or destroyed)',
  14: 'unavailable',
  16: 'unauthenticated (no application-default credentials)',
};

/**
 * Google Secret Manager through Google's client library: `projects/P/secrets/NAME/versions/latest`.
 * Each secret is fetched at most once (the promise is cached, also while in flight). A missing
 * secret is `undefined`; any other failure throws SECRETS_UNAVAILABLE naming the secret and the
 * gRPC reason, never a value.
 */
export function gcpSecretsProvider(options: GcpSecretsOptions): SecretsProvider {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(options.project)) {
    throw new SapphireError('SETTINGS_INVALID', `GCP_PROJECT=${JSON.stringify(options.project)} is not a project id`);
  }
  const version = options.version ?? 'latest';
  const secretId = options.secretId ?? ((name: SecretName) => name);
  let client: Promise<SecretManagerClientLike> | undefined = options.client
    ? Promise.resolve(options.client)
    : undefined;
  const cache = new Map<SecretName, Promise<string | undefined>>();

  const getClient = () =>
    (client ??= defaultClient().catch((error: unknown) => {
      client = undefined; // the next call tries again
      throw error;
    }));

  async function fetchSecret(name: SecretName): Promise<string | undefined> {
    const path = `projects/${options.project}/secrets/${secretId(name)}/versions/${version}`;
    const api = await getClient();
    let response;
    try {
      [response] = await api.accessSecretVersion({ name: path });
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === GRPC_NOT_FOUND) return undefined;
      const reason = typeof code === 'number' ? (GRPC_REASONS[code] ?? `gRPC code ${code}`) : 'request failed';
      // the library's error text is deliberately not forwarded: only the name and the reason
      throw new SapphireError('SECRETS_UNAVAILABLE', `cannot read secret ${path}: ${reason}`);
    }
    const data = response?.payload?.data;
    if (data === undefined || data === null) return undefined;
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    // `echo value | gcloud secrets create …` stores a trailing newline: drop exactly one
    const value = text.replace(/\r?\n$/, '');
    return value === '' ? undefined : value;
  }

  return {
    kind: 'gcp',
    get(name) {
      let pending = cache.get(name);
      if (!pending) {
        pending = fetchSecret(name);
        cache.set(name, pending);
        // a failure is not cached: the next call tries again
        pending.catch(() => cache.delete(name));
      }
      return pending;
    },
  };
}

/**
 * Google's client with application-default credentials. The credentials are resolved first: the
 * library, asked for a secret without usable credentials, also leaves an unhandled rejection
 * behind, which would end the process.
 */
async function defaultClient(): Promise<SecretManagerClientLike> {
  const lib = await import('@google-cloud/secret-manager');
  const client = new lib.SecretManagerServiceClient();
  try {
    await client.auth.getClient();
  } catch {
    throw new SapphireError(
      'SECRETS_UNAVAILABLE',
      'no usable Google credentials for Secret Manager (application-default credentials: the service account on Cloud Run, or gcloud auth application-default login)',
    );
  }
  return client;
}

/** The provider SECRETS_PROVIDER names (gcp needs GCP_PROJECT). */
export function secretsProviderFor(
  settings: Settings,
  options: { client?: SecretManagerClientLike } = {},
): SecretsProvider {
  if (settings.SECRETS_PROVIDER === 'env') return envSecretsProvider(settings);
  if (settings.GCP_PROJECT === '') {
    throw new SapphireError('SETTINGS_INVALID', 'SECRETS_PROVIDER=gcp needs GCP_PROJECT (the Google Cloud project id)');
  }
  return gcpSecretsProvider({ project: settings.GCP_PROJECT, client: options.client });
}

/**
 * Settings with every secret filled. A value already given by the environment or `.env` wins
 * (so a local override or Cloud Run's --set-secrets injection needs no Secret Manager call);
 * the provider fills the rest. Secrets the provider does not have stay empty.
 */
export async function resolveSecrets(settings: Settings, provider: SecretsProvider): Promise<Settings> {
  const filled: Record<string, string> = {};
  await Promise.all(
    SECRET_NAMES.map(async (name) => {
      if (settings[name] !== '') return;
      const value = await provider.get(name);
      if (value !== undefined) filled[name] = value;
    }),
  );
  if (Object.keys(filled).length === 0) return settings;
  return Object.freeze({ ...settings, ...filled }) as Settings;
}

/** Which secrets are set, for a start-up line: names and 'set'/'unset' only, never a value. */
export function describeSecrets(settings: Settings): Record<SecretName, 'set' | 'unset'> {
  const out = {} as Record<SecretName, 'set' | 'unset'>;
  for (const name of SECRET_NAMES) out[name] = settings[name] === '' ? 'unset' : 'set';
  return out;
}
