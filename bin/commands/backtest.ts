import { resolve } from 'node:path';
import type { SymbolFilters } from '../../pipelines/model/index.ts';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { checkGaps, describeGap, loadDatasetReport, type DataGap } from '../../backtests/data/index.ts';
import { backtestFilters } from '../../pipelines/instruments.ts';
import { runRecordedBacktest, type RunBlock } from '../../backtests/recorded-run.ts';
import { featureWarmUpBars } from '../../operators/features/features.ts';
import { newAgentStageCounts } from '../../operators/agents/agents.ts';
import { agentHealth, type AgentHealth } from '../../operators/agents/agent-health.ts';
import { formatMetricsTable } from '../../backtests/report/metrics.ts';
import { equityCsv, resultJson, tradesCsv, writeResults } from '../../backtests/report/write-results.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { progressBar } from '../kit/progress.ts';
import { defaultFunding } from '../kit/default-funding.ts';
import { applyStrategyFlag, strategiesAtEdge, STRATEGY_FLAG_USAGE } from '../kit/strategy-flag.ts';
import { formatSeedsTable, type SeedsSummary } from '../../backtests/seeds/seeds.ts';
import type { BacktestResult } from '../../backtests/run-backtest.ts';

const USAGE = `usage: sapphire backtest [options] [NAME=VALUE ...]

Runs the trading pipeline over historical bars with the simulated venue and writes a report.
With no options: the real sample shipped in data/sample/perp-5m (BTC, ETH, SOL perpetuals, 5m).

options:
${STRATEGY_FLAG_USAGE}
  --data DIR          folder of bar files (default: DATA_DIR, data/sample/perp-5m)
  --symbols A,B       symbols to trade (default: every symbol in DIR that SYMBOLS allows, or all in DIR)
  --from YYYY-MM-DD   first bar (UTC, inclusive)      --to YYYY-MM-DD   end (UTC, exclusive)
                      bars before --from warm the indicators up, so trading can start at --from
  --funding FILE      funding-rate history: /fapi/v1/fundingRate JSON, Binance monthly dumps
                      (SYMBOL-fundingRate-YYYY-MM.csv) or CSV symbol,fundingTime,fundingRate; a file
                      or a folder. A rate applies at the first bar opening at or after its time.
                      Default: FUNDING_CSV (the sample's real Binance history), FUNDING_RATE
                      every 8 h for symbols and times it lacks
  --close-at-end      close positions still open at the end at the last close (fees, slippage;
                      exit reason end-of-data); default: list them as open trades, marked
  --allow-gaps        run across holes longer than MAX_GAP_BARS (default one day of bars);
                      indicators warm up again after each. Every gap is reported either way
  --filters FILE      exchangeInfo JSON (/fapi/v1/exchangeInfo) for symbols the bundled Aster
                      filters lack; without it such a symbol is an error
  --tape-miss MODE    error (default): a signal with no reply on AGENT_TAPE stops the run;
                      skip: go on without that agent (a different strategy: say so explicitly)
  --dotenv PATH        settings file (default .env)
  --out DIR           where result.json, trades.csv and equity.csv go (default out/backtest)
  --html              also write report.html (charts, no network needed)
  --seeds N           also run SEED+1 … SEED+N−1 in worker threads and report the median and the
                      5–95 % range of each headline figure over the N seeds (result.json "seeds")
  --quiet             no terminal report, only the written paths
  NAME=VALUE          any setting, e.g. MOMENTUM_THRESHOLD=0.5 SIZING_MODE=fixed`;

const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** The header's second line: the window the numbers cover and the money they start from. */
export function backtestSpan(start: number, end: number, initialBalance: number): string {
  const capital = initialBalance.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return `${minute(start)} → ${minute(end)} UTC, initial capital ${capital} USDT`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      strategy: { type: 'string' },
      data: { type: 'string' },
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      funding: { type: 'string' },
      'close-at-end': { type: 'boolean' },
      'allow-gaps': { type: 'boolean' },
      filters: { type: 'string' },
      'tape-miss': { type: 'string' },
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
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE, values.strategy);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  applyStrategyFlag(values.strategy, overrides);
  let settings: Settings = loadSettings({ envFile: values.dotenv ?? '.env', overrides });
  const strategies = await strategiesAtEdge(settings, { envFile: values.dotenv ?? '.env', overrides });
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  if (from !== undefined && to !== undefined && from >= to) {
    throw new SapphireError('CLI_USAGE', `--from ${values.from} is not before --to ${values.to}`);
  }
  const dataDir = values.data ?? settings.DATA_DIR;
  const tapeMiss = values['tape-miss'] ?? 'error';
  if (tapeMiss !== 'error' && tapeMiss !== 'skip') {
    throw new SapphireError('CLI_USAGE', `--tape-miss ${JSON.stringify(tapeMiss)} must be error or skip`);
  }
  const allowGaps = values['allow-gaps'] === true;
  const seedCount = seedCountOf(values.seeds);

  // symbols asked for explicitly must exist; the default list is narrowed to what the data has
  const explicit = values.symbols !== undefined || 'SYMBOLS' in overrides;
  // everything up to --to: the bars before --from are the warm-up (gaps are checked below, on what the run uses)
  const loaded = await loadDatasetReport({
    dir: dataDir,
    symbols: explicit ? settings.SYMBOLS : undefined,
    to,
    allowGaps: true,
  });
  let series = loaded.series;
  if (!explicit) {
    const wanted = series.filter((c) => settings.SYMBOLS.includes(c.symbol));
    series = wanted.length > 0 ? wanted : series;
  }
  const intervalMs = series[0]!.intervalMs;
  const interval = intervalMs % 3_600_000 === 0 ? `${intervalMs / 3_600_000}h` : `${intervalMs / 60_000}m`;
  if (!('BAR_INTERVAL' in overrides)) settings = withOverrides(settings, { BAR_INTERVAL: interval }, 'the data');
  settings = withOverrides(settings, { SYMBOLS: series.map((c) => c.symbol) }, 'the data');
  // gaps inside what the run reads (the window and its warm-up), named by file and line
  const runFrom = from === undefined ? -Infinity : from - featureWarmUpBars(settings) * intervalMs;
  const used = new Set(series.map((c) => c.symbol));
  const gaps = loaded.gaps.filter((g) => used.has(g.symbol) && g.firstAfter > runFrom);
  checkGaps(gaps, intervalMs, settings.MAX_GAP_BARS, allowGaps);

  // the run block result.json records: `sapphire verify` re-runs from exactly these options
  const run: RunBlock = {
    closeAtEnd: values['close-at-end'] === true,
    allowGaps,
    tapeMiss,
    funding: values.funding ?? null,
    filters: values.filters ?? null,
    seeds: seedCount,
  };
  const bar = progressBar('backtest');
  const agentCounts = newAgentStageCounts();
  const { result, seeds, filters } = await runRecordedBacktest({
    settings,
    series,
    from,
    to,
    run,
    inputPath: (name) => values[name],
    defaultFunding: values.funding ? undefined : defaultFunding(settings.FUNDING_CSV),
    strategies,
    agentCounts,
    onProgress: (done, total) => bar.update(done, total),
  });
  bar.done();

  const outDir = resolve(values.out ?? 'out/backtest');
  const agents = settings.AGENTS_ENABLED ? agentHealth(agentCounts) : undefined;
  const meta = { dataDir, settings, from, to, series, seeds, run, agents };
  const written = await writeBacktestFiles(outDir, result, meta, filters, values.html === true);
  if (!values.quiet) printSummary(result, settings, agents, gaps, seeds);
  // warnings go to stderr even with --quiet: the numbers depend on them
  for (const w of result.warnings) console.error(`warning: ${w}`);
  console.log(`\nwritten: ${written.join(', ')}`);
  return 0;
}

/** The run's figures on stdout: headline table, denials, agents, open trades, gaps, seeds. */
function printSummary(
  result: BacktestResult,
  settings: Settings,
  agents: AgentHealth | undefined,
  gaps: readonly DataGap[],
  seeds: SeedsSummary | undefined,
): void {
  console.log(`\nSapphire backtest — ${result.symbols.join(', ')} ${settings.BAR_INTERVAL}, ${result.bars} bars`);
  console.log(backtestSpan(result.start, result.end, settings.INITIAL_BALANCE));
  console.log(formatMetricsTable(result.metrics));
  const denials = Object.entries(result.denials).sort((a, b) => b[1] - a[1]);
  if (denials.length > 0) {
    console.log('\nDenied decisions (stage:rule  count)');
    for (const [rule, n] of denials.slice(0, 8)) console.log(`  ${rule.padEnd(36)} ${n}`);
  }
  if (agents !== undefined) {
    console.log(
      `\nAgents (${agents.signals} entry signals asked; AGENT_FAILURE_POLICY=${settings.AGENT_FAILURE_POLICY})`,
    );
    for (const [name, row] of Object.entries(agents.agents)) {
      const faults = Object.entries(row.faults).map(([k, n]) => `${k} ${n}`);
      console.log(
        `  ${name.padEnd(16)} without it ${(row.shareWithout * 100).toFixed(1)} % of decisions` +
          (faults.length > 0 ? `  faults: ${faults.join(', ')}` : ''),
      );
    }
  }
  if (result.openTrades.length > 0) {
    console.log(
      '\nOpen at the end (marked at the last close; not in the trade statistics; --close-at-end closes them)',
    );
    for (const t of result.openTrades) {
      console.log(
        `  ${t.symbol.padEnd(10)} ${t.side.padEnd(5)} qty ${t.quantity} entry ${t.entryPrice} mark ${t.markPrice}` +
          `  unrealised ${t.unrealizedPnl.toFixed(2)}  net ${t.netPnl.toFixed(2)} USDT`,
      );
    }
  }
  if (result.gaps.length > 0) {
    console.log(`\nData gaps (${result.gaps.length}, longer than one bar)`);
    for (const g of result.gaps.slice(0, 10))
      console.log(`  ${describeGap(gaps.find((x) => x.symbol === g.symbol && x.firstAfter === g.firstAfter) ?? g)}`);
    if (result.gaps.length > 10) console.log(`  … ${result.gaps.length - 10} more in result.json`);
  }
  if (seeds) console.log(`\n${formatSeedsTable(seeds)}`);
}

/** result.json, trades.csv, equity.csv and (with --html) report.html, written together. */
async function writeBacktestFiles(
  outDir: string,
  result: BacktestResult,
  meta: Parameters<typeof resultJson>[1] &
    Parameters<typeof import('../../dashboard/reports/backtest-html.ts').renderBacktestHtml>[1],
  filters: ReadonlyMap<string, SymbolFilters> | undefined,
  html: boolean,
): Promise<string[]> {
  const files: Record<string, string> = {
    'result.json': resultJson(result, meta),
    'trades.csv': tradesCsv(result, backtestFilters(result.symbols, filters)),
    'equity.csv': equityCsv(result),
  };
  if (html) {
    const { renderBacktestHtml } = await import('../../dashboard/reports/backtest-html.ts');
    files['report.html'] = renderBacktestHtml(result, meta);
  }
  return writeResults(outDir, files);
}

/** --seeds N: a whole number from 1 to 10000 (1 without the flag). */
function seedCountOf(flag: string | undefined): number {
  const count = flag === undefined ? 1 : Number(flag);
  if (!Number.isInteger(count) || count < 1 || count > 10_000)
    throw new SapphireError('CLI_USAGE', `--seeds ${JSON.stringify(flag)}: expected a whole number from 1 to 10000`);
  return count;
}
