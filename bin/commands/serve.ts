import { loadSettings } from '../../pipelines/load-settings.ts';
import { resolveSecrets, secretsProviderFor, describeSecrets } from '../../secrets/index.ts';
import { startService } from '../../live/service/service.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { overridesFrom, parseFlags } from '../kit/args.ts';
import { strategiesAtEdge } from '../kit/strategy-flag.ts';
import { consoleLine, startupSummary } from '../../live/service/console-lines.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const USAGE = `usage: sapphire serve [--dotenv PATH] [--from-exchange] [NAME=VALUE ...]

Starts the trading service: the pipeline on live bars, the admin API and the dashboard.
With no configuration: paper mode against the embedded market (the real sample in
data/sample/perp-5m replayed at SIMULATOR_REPLAY_MS per bar) with the embedded agents
(AGENTS_ENABLED=false turns them off), dashboard at http://127.0.0.1:8080.
Set ASTER_REST_URL and ASTER_WS_URL for the real exchange; TRADING_MODE=live for real orders
(needs credentials and ADMIN_API_TOKEN). Admin routes need ADMIN_API_TOKEN.
A journal written with other strategy settings or code is refused; --from-exchange
(START_FROM_EXCHANGE=true) sets it aside and begins a new one from what the exchange holds:
in live mode its positions are taken over (with the bot's working stop and take-profit), the
bot's orders that guard nothing are cancelled, other orders are left alone.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { dotenv: { type: 'string' }, 'from-exchange': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const overrides = overridesFrom(positionals, USAGE);
  if (values['from-exchange']) overrides.START_FROM_EXCHANGE = 'true';
  const loaded = loadSettings({
    envFile: values.dotenv ?? '.env',
    overrides,
    // the demo shows the whole product: the embedded agents gate entries unless turned off
    defaults: { AGENTS_ENABLED: 'true' },
  });
  // strategy files named in STRATEGIES are imported and checked before anything starts
  await strategiesAtEdge(loaded, { envFile: values.dotenv ?? '.env', overrides });
  const settings = await resolveSecrets(loaded, secretsProviderFor(loaded));
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService(settings, {
      embeddedExchange: startExchangeSimulator,
      logger: settings.LOG_LEVEL !== 'silent',
      dashboard: dashboardPlugin,
    });
  } catch (error) {
    // the failed start closed what it opened; should anything still hold the event loop, the
    // process ends anyway once the error is printed: never a running process without its API
    exitSoon(1, 1000);
    throw error;
  }
  const s = service.settings;
  const secrets = Object.entries(describeSecrets(s))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `${startupSummary(s, service.engine, service.market.status(), service.url)}\n  secrets:    ${secrets}` +
      (s.ADMIN_API_TOKEN === '' ? '\n  admin routes are off: set ADMIN_API_TOKEN to use Start/Stop' : ''),
  );
  // trades, fills, risk changes and errors, one line each (request logs are at debug level)
  service.onEvents((e) => {
    const line = consoleLine(e);
    if (line) (line.level === 'error' ? console.error : console.log)(line.text);
  });
  const ended = await new Promise<{ signal: string } | { failure: string }>((resolve) => {
    process.once('SIGINT', () => resolve({ signal: 'SIGINT' }));
    process.once('SIGTERM', () => resolve({ signal: 'SIGTERM' }));
    void service.failed.then((failure) => resolve({ failure }));
  });
  const code = 'failure' in ended ? 1 : 0;
  if ('failure' in ended) {
    console.error(
      `sapphire: the pipeline stopped: ${ended.failure}\n  nothing trades and bot-held stops are no longer enforced; ` +
        'exiting (exchange-side protective orders stay in place). Check the positions at the exchange.',
    );
  }
  // a second signal, or a shutdown that takes too long, ends the process at once
  const again = () => exitSoon(code === 0 ? 130 : code, 0);
  process.once('SIGINT', again);
  process.once('SIGTERM', again);
  const deadline = setTimeout(() => {
    console.error(`sapphire: shutdown did not finish within ${SHUTDOWN_MS / 1000} s; exiting`);
    process.exit(code === 0 ? 1 : code);
  }, SHUTDOWN_MS);
  deadline.unref();
  await service.close();
  clearTimeout(deadline);
  // anything a library left open (a socket in linger) must not keep the process alive
  exitSoon(code, 500);
  return code;
}

/** the whole shutdown stays under the 5 s a supervisor gives before SIGKILL */
const SHUTDOWN_MS = 4500;

function exitSoon(code: number, ms: number): void {
  setTimeout(() => process.exit(code), ms).unref();
}
