import { resolve } from 'node:path';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset, loadFundingFile } from '../../backtests/data/index.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';
import { FAULT_KINDS, type FaultKind } from '../../simulator/faults.ts';
import type { V1Credential, V3Credential } from '../../simulator/auth.ts';
import { parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire simulator [options]

Starts an Aster-compatible exchange on 127.0.0.1 (REST /fapi/v1..v4 with HMAC, /fapi/v3 with EIP-712,
WebSocket /stream and /ws/<listenKey>) whose market is a replay of real bars.

options:
  --data DIR          folder of bar files (default data/sample/perp-5m)
  --symbols A,B       symbols to replay (default: all in DIR)
  --funding FILE      real funding history (CSV symbol,fundingTime,fundingRate, Binance dumps or
                      /fapi/v1/fundingRate JSON); default the sample's when --data is the sample.
                      Symbols it lacks pay 0.0001 every 8 h
  --port N            port (default 8090; 0 = any free port)
  --replay-ms N       wall ms per replayed bar (default 100; 0 = frozen market)
  --start-index N     bars released at start, for indicator warm-up (default 300)
  --balance USDT      initial wallet balance per account (default 10000)
  --faults K1,K2      random faults of these kinds: ${FAULT_KINDS.join(', ')}
  --fault-rate N      random faults per second on average (default 0.2)
  --seed N            seed of the fault RNG (default 1)

credentials accepted (from the environment, the same names the service reads):
  ASTER_API_KEY + ASTER_SECRET_KEY   V1 HMAC key
  ASTER_USER + ASTER_SIGNER          V3 API wallet (EIP-712)`;

function num(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new SapphireError('CLI_USAGE', `--${flag} ${JSON.stringify(v)} must be a number ≥ ${min}\n\n${USAGE}`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      data: { type: 'string' },
      symbols: { type: 'string' },
      funding: { type: 'string' },
      port: { type: 'string' },
      'replay-ms': { type: 'string' },
      'start-index': { type: 'string' },
      balance: { type: 'string' },
      faults: { type: 'string' },
      'fault-rate': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const kinds = (values.faults ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k as FaultKind));
  if (unknown.length > 0)
    throw new SapphireError(
      'CLI_USAGE',
      `--faults: unknown kind ${unknown.join(', ')} (known: ${FAULT_KINDS.join(', ')})`,
    );

  const dir = resolve(values.data ?? 'data/sample/perp-5m');
  const symbols = values.symbols?.split(',').map((s) => s.trim().toUpperCase());
  const series = await loadDataset({ dir, ...(symbols ? { symbols } : {}) });
  const fundingFile =
    values.funding ??
    (values.data === undefined ? 'data/sample/funding/BTC-ETH-SOL-USDT-funding-2025-10-22_2026-02-19.csv' : undefined);
  const fundingRates = fundingFile === undefined ? [] : loadFundingFile(resolve(fundingFile));
  const startIndex = Math.min(num('start-index', values['start-index'], 300, 0), series[0]!.length - 1);

  const credentials: V1Credential[] = [];
  const v3Credentials: V3Credential[] = [];
  const env = process.env;
  if (env.ASTER_API_KEY && env.ASTER_SECRET_KEY)
    credentials.push({ apiKey: env.ASTER_API_KEY, secretKey: env.ASTER_SECRET_KEY });
  if (env.ASTER_USER && env.ASTER_SIGNER) v3Credentials.push({ user: env.ASTER_USER, signer: env.ASTER_SIGNER });

  const sim = await startExchangeSimulator({
    series,
    host: '127.0.0.1',
    port: num('port', values.port, 8090, 0),
    replayMs: num('replay-ms', values['replay-ms'], 100, 0),
    startIndex,
    initialBalance: num('balance', values.balance, 10_000, 0),
    fundingRates,
    credentials,
    v3Credentials,
    ...(kinds.length > 0
      ? {
          faults: {
            seed: num('seed', values.seed, 1, 0),
            ratePerSecond: num('fault-rate', values['fault-rate'], 0.2, 0),
            kinds: kinds as FaultKind[],
          },
        }
      : {}),
  });
  console.log(`simulator: REST ${sim.restUrl}  WS ${sim.wsUrl}`);
  console.log(`  replaying ${series.map((s) => `${s.symbol} (${s.length} bars)`).join(', ')} from bar ${startIndex}`);
  if (fundingFile !== undefined) console.log(`  funding: ${fundingRates.length} real rates from ${fundingFile}`);
  console.log(
    `  accounts: ${credentials.length} V1 key(s), ${v3Credentials.length} V3 signer(s)` +
      (credentials.length + v3Credentials.length === 0 ? ' — signed endpoints will answer -2014/-2015' : ''),
  );
  if (kinds.length > 0) console.log(`  random faults: ${kinds.join(', ')}`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await sim.close();
  return 0;
}
