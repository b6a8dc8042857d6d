import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset, loadFundingCsv } from '../../backtests/data/index.ts';
import { seededCuts, type Difference } from '../../backtests/lookahead-check.ts';
import { checkLookaheadParallel } from '../../backtests/lookahead-parallel.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { applyStrategyFlag, strategiesAtEdge, STRATEGY_FLAG_USAGE } from '../kit/strategy-flag.ts';

export const DEFAULT_CUTS = 20;

const USAGE = `usage: sapphire check lookahead [options] [NAME=VALUE ...]

Proves that nothing depends on a later bar: backtests the data whole, then truncated at N seeded
cut points, and demands that everything computed from the bars before each cut is identical —
every event those bars caused (decisions, denials, intents, orders, fills, trades, portfolio
snapshots, any kind) and every equity row up to the cut — and that no event is stamped earlier
than the data it came after. Agents run as in a backtest (embedded, or replayed from AGENT_TAPE).
Exit 0 when all agree, 1 at the first difference (printed: kind, symbol, time, field, both values).

options:
${STRATEGY_FLAG_USAGE}
  --data DIR          folder of bar files (default: DATA_DIR)
  --symbols A,B       symbols (default: every symbol in DIR)
  --from YYYY-MM-DD   first bar (UTC)        --to YYYY-MM-DD   end (UTC, exclusive)
  --cuts N            cut points (default ${DEFAULT_CUTS})       --seed S   which cuts (default 1)
  --all               check every cut even after a difference (slower; counts the cuts that differ)
  --workers N         threads sharing the cuts, each with its own full run and its memory (default 1)
  --funding FILE      funding-rate CSV, as for sapphire backtest
  --dotenv PATH       settings file (default .env)`;

const iso = (t: number): string => new Date(t).toISOString();

function printDifference(d: Difference, cut: number | null): void {
  console.log(
    cut === null
      ? '\nLOOK-AHEAD FOUND: an event is stamped before data it was computed from'
      : `\nLOOK-AHEAD FOUND at the cut ${iso(cut)}: ${d.where === 'equity' ? 'an equity row' : 'an event'} changed when later bars were removed`,
  );
  console.log(`  kind       ${d.kind}`);
  console.log(`  symbol     ${d.symbol || '-'}`);
  console.log(`  time       ${iso(d.time)}`);
  console.log(`  field      ${d.field}`);
  console.log(`  full run   ${d.full}`);
  console.log(`  truncated  ${d.truncated}`);
  console.log(`  ${d.detail}`);
}

function wholeNumber(flag: string, value: string | undefined, fallback: number, low: number, high: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < low || n > high) {
    throw new SapphireError('CLI_USAGE', `--${flag} ${value}: a whole number from ${low} to ${high}`);
  }
  return n;
}

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
      strategy: { type: 'string' },
      data: { type: 'string' },
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      cuts: { type: 'string' },
      seed: { type: 'string' },
      all: { type: 'boolean' },
      workers: { type: 'string' },
      funding: { type: 'string' },
      dotenv: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE, values.strategy);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  applyStrategyFlag(values.strategy, overrides);
  let settings = loadSettings({ envFile: values.dotenv ?? '.env', overrides });
  await strategiesAtEdge(settings, { envFile: values.dotenv ?? '.env', overrides });
  const cuts = wholeNumber('cuts', values.cuts, DEFAULT_CUTS, 1, 1000);
  const seed = wholeNumber('seed', values.seed, 1, 0, 2 ** 32 - 1);
  const workers = wholeNumber('workers', values.workers, 1, 1, 64);
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  if (from !== undefined && to !== undefined && from >= to) {
    throw new SapphireError('CLI_USAGE', `--from ${values.from} is not before --to ${values.to}`);
  }
  const series = await loadDataset({
    dir: values.data ?? settings.DATA_DIR,
    symbols: values.symbols !== undefined ? settings.SYMBOLS : undefined,
    from,
    to,
  });
  const minutes = series[0]!.intervalMs / 60_000;
  settings = withOverrides(
    settings,
    { SYMBOLS: series.map((c) => c.symbol), BAR_INTERVAL: minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m` },
    'the data',
  );
  const fundingRates = values.funding ? await loadFundingCsv(values.funding) : undefined;
  const cutTimes = seededCuts(series, cuts, seed);
  console.log(
    `look-ahead check: ${settings.SYMBOLS.join(', ')} ${settings.BAR_INTERVAL}, ${series[0]!.length} bars, ` +
      `${cutTimes.length} cuts (seed ${seed})`,
  );
  const report = await checkLookaheadParallel({
    settings,
    series,
    cuts: cutTimes,
    fundingRates,
    workers,
    stopAtFirst: values.all !== true,
  });
  console.log(
    `full run ${(report.fullMs / 1000).toFixed(1)} s; late stamps: ${report.late === null ? 'none' : 'FOUND'}`,
  );
  if (report.outcomes.length > 0) {
    console.log('\ncut (UTC)                  events   rows      ms  result');
    for (const o of report.outcomes) {
      console.log(
        `${iso(o.cut).padEnd(24)} ${String(o.events).padStart(8)} ${String(o.rows).padStart(6)} ${o.ms.toFixed(0).padStart(7)}  ` +
          `${o.difference === null ? 'identical' : `DIFFERS: ${o.difference.kind} ${o.difference.field}`}`,
      );
    }
  }
  const differing = report.outcomes.filter((o) => o.difference !== null);
  if (report.late !== null) printDifference(report.late, null);
  if (differing.length > 0) printDifference(differing[0]!.difference!, differing[0]!.cut);
  if (values.all === true) console.log(`\n${differing.length} of ${report.outcomes.length} cuts differ`);
  console.log(`\n${report.passed ? 'no look-ahead' : 'look-ahead found'} (${(report.totalMs / 1000).toFixed(1)} s)`);
  return report.passed ? 0 : 1;
}
