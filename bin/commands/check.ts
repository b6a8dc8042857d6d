import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { checkLookahead, spreadCuts } from '../../backtests/lookahead-check.ts';
import { overridesFrom, parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire check lookahead [--data DIR] [--symbols A,B] [--cuts N] [--dotenv PATH] [NAME=VALUE ...]

Proves that no decision depends on a later bar: backtests the data whole, then truncated at N
cut points, and compares every decision, denial, intent and order before each cut.
Exit 0 when all agree, 1 when any differs (the first difference is printed).`;

export async function run(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what === '--help' || what === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (what !== 'lookahead') throw new SapphireError('CLI_USAGE', `unknown check "${what ?? ''}"\n\n${USAGE}`);
  const { values, positionals } = parseFlags(
    rest,
    {
      data: { type: 'string' },
      symbols: { type: 'string' },
      cuts: { type: 'string' },
      dotenv: { type: 'string' },
    },
    USAGE,
  );
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  let settings = loadSettings({ envFile: values.dotenv ?? '.env', overrides });
  const cuts = Number(values.cuts ?? '6');
  if (!Number.isInteger(cuts) || cuts < 1 || cuts > 100) {
    throw new SapphireError('CLI_USAGE', `--cuts ${values.cuts}: a whole number from 1 to 100`);
  }
  const series = await loadDataset({
    dir: values.data ?? settings.DATA_DIR,
    symbols: values.symbols !== undefined ? settings.SYMBOLS : undefined,
  });
  const minutes = series[0]!.intervalMs / 60_000;
  settings = withOverrides(
    settings,
    { SYMBOLS: series.map((c) => c.symbol), BAR_INTERVAL: minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m` },
    'the data',
  );
  const outcomes = checkLookahead(settings, series, spreadCuts(series, cuts));
  let failed = false;
  console.log('cut (UTC)                  events compared  result');
  for (const o of outcomes) {
    failed ||= o.difference !== null;
    console.log(
      `${new Date(o.cut).toISOString().padEnd(26)} ${String(o.compared).padStart(15)}  ${o.difference ?? 'identical'}`,
    );
  }
  console.log(failed ? '\nLOOK-AHEAD FOUND: a decision changed when later bars were removed' : '\nno look-ahead');
  return failed ? 1 : 0;
}
