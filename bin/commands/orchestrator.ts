import type { AddressInfo } from 'node:net';
import { loadSettings } from '../../pipelines/load-settings.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { describeSecrets, resolveSecrets, secretsProviderFor } from '../../secrets/index.ts';
import { AsterRestClient, type AsterCredentials } from '../../live/aster/rest-client.ts';
import { AsterWalletVenue } from '../../live/orchestrator/aster-wallet-venue.ts';
import { MIN_LIVE_TOKEN_LENGTH } from '../../live/service/service.ts';
import { buildOrchestratorApp } from '../../live/orchestrator/orchestrator-app.ts';
import { overridesFrom, parseFlags } from '../kit/args.ts';
import { systemClock } from '../../runtime/timers.ts';

const USAGE = `usage: sapphire orchestrator [--dotenv PATH] [--journal PATH] [NAME=VALUE ...]

Starts the multi-bot wallet orchestrator on ORCHESTRATOR_PORT (8082): one Aster wallet shared by
several bots. Bots send orders to POST /order/:botId (set ORCHESTRATOR_URL in the bots); the
orchestrator applies wallet guardrails (KELLY_FRACTION_CAP, MAX_PORTFOLIO_LEVERAGE, MAX_DRAWDOWN),
routes each client order id at most once, and POST /emergency_stop cancels every open order,
flattens every position and halts all bots. Needs ADMIN_API_TOKEN, ASTER_REST_URL and exchange
credentials (ASTER_API_KEY + ASTER_SECRET_KEY, or ASTER_USER + ASTER_SIGNER + ASTER_SIGNER_PRIVATE_KEY).

options:
  --dotenv PATH     settings file (default .env)
  --journal PATH    append-only journal of routed ids and halts (default .sapphire/orchestrator.jsonl)
  NAME=VALUE        any setting, e.g. ORCHESTRATOR_PORT=9090`;

/** Exchange credentials from settings: V1 HMAC first, else the V3 API wallet, else none. */
export function credentialsOf(s: Settings): AsterCredentials | undefined {
  if (s.ASTER_API_KEY !== '' && s.ASTER_SECRET_KEY !== '') {
    return { kind: 'hmac', apiKey: s.ASTER_API_KEY, secretKey: s.ASTER_SECRET_KEY };
  }
  if (s.ASTER_USER !== '' && s.ASTER_SIGNER !== '' && s.ASTER_SIGNER_PRIVATE_KEY !== '') {
    return { kind: 'eip712', user: s.ASTER_USER, signer: s.ASTER_SIGNER, privateKey: s.ASTER_SIGNER_PRIVATE_KEY };
  }
  return undefined;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { dotenv: { type: 'string' }, journal: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const loaded = loadSettings({ envFile: values.dotenv ?? '.env', overrides: overridesFrom(positionals, USAGE) });
  const settings = await resolveSecrets(loaded, secretsProviderFor(loaded));
  const missing: string[] = [];
  if (settings.ADMIN_API_TOKEN === '') missing.push('ADMIN_API_TOKEN');
  else if (settings.ADMIN_API_TOKEN.length < MIN_LIVE_TOKEN_LENGTH) {
    missing.push(
      `an ADMIN_API_TOKEN of at least ${MIN_LIVE_TOKEN_LENGTH} characters (it has ${settings.ADMIN_API_TOKEN.length}; it guards a real wallet)`,
    );
  }
  if (settings.ASTER_REST_URL === '') missing.push('ASTER_REST_URL');
  const credentials = credentialsOf(settings);
  if (credentials === undefined) {
    missing.push(
      'exchange credentials (ASTER_API_KEY + ASTER_SECRET_KEY, or ASTER_USER + ASTER_SIGNER + ASTER_SIGNER_PRIVATE_KEY)',
    );
  }
  if (missing.length > 0) {
    throw new SapphireError('SETTINGS_INVALID', `the orchestrator refuses to start without ${missing.join(', ')}`);
  }
  const client = new AsterRestClient({
    baseUrl: settings.ASTER_REST_URL,
    credentials,
    recvWindow: settings.ASTER_RECV_WINDOW,
    absentLookups: settings.ASTER_ABSENT_LOOKUPS,
    absentLookupSpacingMs: settings.ASTER_ABSENT_LOOKUP_SPACING_MS,
    banDefaultMs: settings.ASTER_BAN_DEFAULT_MS,
  });
  try {
    await client.syncTime();
  } catch (e) {
    console.error(
      `sapphire orchestrator: clock sync with the exchange failed (${e instanceof SapphireError ? e.code : 'error'}); continuing`,
    );
  }
  const app = buildOrchestratorApp({
    settings,
    venue: new AsterWalletVenue(client),
    clock: systemClock,
    journalPath: values.journal ?? '.sapphire/orchestrator.jsonl',
    logger: settings.LOG_LEVEL !== 'silent' && settings.LOG_LEVEL !== 'fatal',
  });
  await app.listen({ port: settings.ORCHESTRATOR_PORT, host: settings.HOST });
  const addr = app.server.address() as AddressInfo;
  const secrets = Object.entries(describeSecrets(settings))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `sapphire orchestrator on http://${addr.address}:${addr.port} (venue ${settings.ASTER_REST_URL})\n  secrets: ${secrets}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await app.close();
  return 0;
}
