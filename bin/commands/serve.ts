import { loadSettings } from '../../pipelines/load-settings.ts';
import { resolveSecrets, secretsProviderFor, describeSecrets } from '../../secrets/index.ts';
import { startService } from '../../live/service/service.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { overridesFrom, parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire serve [--dotenv PATH] [NAME=VALUE ...]

Starts the trading service: the pipeline on live bars, the admin API and the dashboard.
With no configuration: paper mode against the embedded market (the real sample in
data/sample/perp-5m replayed at SIMULATOR_REPLAY_MS per bar), dashboard at http://127.0.0.1:8080.
Set ASTER_REST_URL and ASTER_WS_URL for the real exchange; TRADING_MODE=live for real orders
(needs credentials and ADMIN_API_TOKEN). Admin routes need ADMIN_API_TOKEN.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { dotenv: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const loaded = loadSettings({ envFile: values.dotenv ?? '.env', overrides: overridesFrom(positionals, USAGE) });
  const settings = await resolveSecrets(loaded, secretsProviderFor(loaded));
  const service = await startService(settings, { logger: settings.LOG_LEVEL !== 'silent', dashboard: dashboardPlugin });
  const s = service.settings;
  const secrets = Object.entries(describeSecrets(s))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `sapphire ${s.TRADING_MODE} on ${s.SYMBOLS.join(', ')} (${service.market.status()} market); ` +
      `dashboard ${service.url.replace('127.0.0.1', 'localhost')}\n  secrets: ${secrets}` +
      (s.ADMIN_API_TOKEN === '' ? '\n  admin routes are off: set ADMIN_API_TOKEN to use Start/Stop' : ''),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await service.close();
  return 0;
}
