import { resolve } from 'node:path';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset, loadFundingCsv } from '../../backtests/data/index.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { formatMetricsTable } from '../../backtests/report/metrics.ts';
import { equityCsv, resultJson, tradesCsv, writeResults } from '../../backtests/report/write-results.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { progressBar } from '../kit/progress.ts';
import {
  formatSeedsTable,
  headlineOf,
  runSeeds,
  summarizeSeeds,
  type SeedsSummary,
} from '../../backtests/seeds/seeds.ts';

const USAGE = `usage: sapphire backtest [options] [NAME=VALUE ...]

Runs the trading pipeline over historical bars with the simulated venue and writes a report.
With no options: the real sample shipped in data/sample/perp-5m (BTC, ETH, SOL perpetuals, 5m).

options:
  --data DIR          folder of bar files (default: DATA_DIR, data/sample/perp-5m)
  --symbols A,B       symbols to trade (default: every symbol in DIR that SYMBOLS allows, or all in DIR)
  --from YYYY-MM-DD   first bar (UTC, inclusive)      --to YYYY-MM-DD   end (UTC, exclusive)
  --funding FILE      funding-rate CSV (symbol,fundingTime,fundingRate); default FUNDING_RATE per 8 h
  --dotenv PATH        settings file (default .env)
  --out DIR           where result.json, trades.csv and equity.csv go (default out/backtest)
  --html              also write report.html (charts, no network needed)
  --seeds N           also run SEED+1 … SEED+N−1 in worker threads and report the median and the
                      5–95 % range of each headline figure over the N seeds (result.json "seeds")
  --quiet             no terminal report, only the written paths
  NAME=VALUE          any setting, e.g. MOMENTUM_THRESHOLD=0.5 SIZING_MODE=fixed`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      data: { type: 'string' },
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      funding: { type: 'string' },
      dotenv: { type: 'string' },
      out: { type: 'string' },
      html: { type: 'boolean' },
      seeds: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  let settings: Settings = loadSettings({ envFile: values.dotenv ?? '.env', overrides });
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  if (from !== undefined && to !== undefined && from >= to) {
    throw new SapphireError('CLI_USAGE', `--from ${values.from} is not before --to ${values.to}`);
  }
  const dataDir = values.data ?? settings.DATA_DIR;
  const seedCount = values.seeds === undefined ? 1 : Number(values.seeds);
  if (!Number.isInteger(seedCount) || seedCount < 1 || seedCount > 10_000)
    throw new SapphireError(
      'CLI_USAGE',
      `--seeds ${JSON.stringify(values.seeds)}: expected a whole number from 1 to 10000`,
    );

  // symbols asked for explicitly must exist; the default list is narrowed to what the data has
  const explicit = values.symbols !== undefined || 'SYMBOLS' in overrides;
  let series = await loadDataset({ dir: dataDir, symbols: explicit ? settings.SYMBOLS : undefined, from, to });
  if (!explicit) {
    const wanted = series.filter((c) => settings.SYMBOLS.includes(c.symbol));
    series = wanted.length > 0 ? wanted : series;
  }
  const intervalMs = series[0]!.intervalMs;
  const interval = intervalMs % 3_600_000 === 0 ? `${intervalMs / 3_600_000}h` : `${intervalMs / 60_000}m`;
  if (!('BAR_INTERVAL' in overrides)) settings = withOverrides(settings, { BAR_INTERVAL: interval }, 'the data');
  settings = withOverrides(settings, { SYMBOLS: series.map((c) => c.symbol) }, 'the data');
  const fundingRates = values.funding ? await loadFundingCsv(values.funding) : undefined;

  const bar = progressBar('backtest');
  const result = runBacktest({
    settings,
    series,
    from,
    to,
    fundingRates,
    // embedded agents, or remote ones replayed from AGENT_TAPE (never live calls in a backtest)
    agents: backtestAgentStage(settings),
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();

  let seeds: SeedsSummary | undefined;
  if (seedCount > 1) {
    const others = Array.from({ length: seedCount - 1 }, (_, i) => settings.SEED + 1 + i);
    const runs = await runSeeds({ settings, series, from, to, fundingRates }, others);
    seeds = summarizeSeeds([headlineOf(settings.SEED, result.metrics), ...runs]);
  }

  const outDir = resolve(values.out ?? 'out/backtest');
  const meta = { dataDir, settings, from, to, series, seeds };
  const files: Record<string, string> = {
    'result.json': resultJson(result, meta),
    'trades.csv': tradesCsv(result),
    'equity.csv': equityCsv(result),
  };
  if (values.html) {
    const { renderBacktestHtml } = await import('../../dashboard/reports/backtest-html.ts');
    files['report.html'] = renderBacktestHtml(result, meta);
  }
  const written = writeResults(outDir, files);
  if (!values.quiet) {
    console.log(`\nSapphire backtest — ${result.symbols.join(', ')} ${settings.BAR_INTERVAL}, ${result.bars} bars`);
    console.log(formatMetricsTable(result.metrics));
    const denials = Object.entries(result.denials).sort((a, b) => b[1] - a[1]);
    if (denials.length > 0) {
      console.log('\nDenied decisions (stage:rule  count)');
      for (const [rule, n] of denials.slice(0, 8)) console.log(`  ${rule.padEnd(36)} ${n}`);
    }
    if (seeds) console.log(`\n${formatSeedsTable(seeds)}`);
  }
  console.log(`\nwritten: ${written.join(', ')}`);
  return 0;
}
