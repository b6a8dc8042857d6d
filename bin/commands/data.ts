import { resolve } from 'node:path';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { AsterRestClient } from '../../live/aster/rest-client.ts';
import { KLINE_INTERVALS, downloadData } from '../../live/aster/data-download.ts';
import { parseDate, parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire data download --symbols A,B --from YYYY-MM-DD --to YYYY-MM-DD --out DIR [options]

Downloads closed klines (and funding rates) from Aster (ASTER_REST_URL, no credentials needed) into
the CSV layout the backtester reads: DIR/<SYMBOL>.csv (date,open,high,low,close,volume) and
DIR/funding.csv (symbol,fundingTime,fundingRate). Paginated, within the exchange's request weight;
run it again to resume (existing files are continued from their last row).

options:
  --symbols A,B       symbols to download (required)
  --interval I        kline interval: ${Object.keys(KLINE_INTERVALS).join(', ')} (default 5m)
  --from YYYY-MM-DD   first bar (UTC, inclusive; required)
  --to YYYY-MM-DD     end (UTC, exclusive; required)
  --out DIR           output folder (required)
  --funding           also download funding rates into DIR/funding.csv
  --dotenv PATH       settings file (default .env)`;

export async function run(argv: string[]): Promise<number> {
  try {
    return await download(argv);
  } catch (error) {
    if (error instanceof SapphireError && error.code === 'CLI_USAGE') {
      console.error(`sapphire data: ${error.message}`);
      return 2;
    }
    // exchange and file errors: a clear message, exit 1 (the files stay valid and resumable)
    console.error(`sapphire data: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

async function download(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      symbols: { type: 'string' },
      interval: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      funding: { type: 'boolean' },
      dotenv: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub !== 'download')
    throw new SapphireError('CLI_USAGE', `unknown data command ${JSON.stringify(sub ?? '')}\n\n${USAGE}`);
  if (extra.length > 0)
    throw new SapphireError('CLI_USAGE', `unexpected argument ${JSON.stringify(extra[0])}\n\n${USAGE}`);
  for (const flag of ['symbols', 'from', 'to', 'out'] as const)
    if (values[flag] === undefined || values[flag] === '')
      throw new SapphireError('CLI_USAGE', `--${flag} is required\n\n${USAGE}`);
  const symbols = values.symbols!.split(',').map((s) => s.trim().toUpperCase());
  const badSymbol = symbols.find((s) => !/^[A-Z0-9]{2,30}$/.test(s));
  if (badSymbol !== undefined)
    throw new SapphireError('CLI_USAGE', `--symbols: ${JSON.stringify(badSymbol)} is not a symbol`);
  const interval = values.interval ?? '5m';
  if (!(interval in KLINE_INTERVALS))
    throw new SapphireError(
      'CLI_USAGE',
      `--interval ${JSON.stringify(interval)}: one of ${Object.keys(KLINE_INTERVALS).join(', ')}`,
    );
  const from = parseDate('from', values.from)!;
  const to = parseDate('to', values.to)!;
  if (from >= to) throw new SapphireError('CLI_USAGE', `--from ${values.from} is not before --to ${values.to}`);

  const settings = loadSettings({ envFile: values.dotenv ?? '.env' });
  if (settings.ASTER_REST_URL === '')
    throw new SapphireError('CLI_USAGE', 'ASTER_REST_URL is not set (e.g. https://fapi.asterdex.com)');
  // market data needs no credentials: none are given to the client, so none can leak
  const client = new AsterRestClient({ baseUrl: settings.ASTER_REST_URL, timeoutMs: 30_000 });
  const outDir = resolve(values.out!);
  const result = await downloadData({
    client,
    symbols,
    interval,
    from,
    to,
    outDir,
    funding: values.funding === true,
  });
  for (const b of result.bars)
    console.log(
      `${b.symbol.padEnd(12)} ${String(b.kept + b.added).padStart(8)} bars (${b.added} new${b.repaired ? ', torn last line repaired' : ''})  ${b.path}`,
    );
  if (result.funding)
    console.log(`${'funding'.padEnd(12)} ${String(result.funding.added).padStart(8)} new rows  ${result.funding.path}`);
  console.log(`${result.requests} requests, last used weight ${client.weight}`);
  return 0;
}
