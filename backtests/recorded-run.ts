import { z } from 'zod';
import type { BarColumns, FundingRate, SymbolFilters } from '../pipelines/model/index.ts';
import type { Settings } from '../pipelines/settings.ts';
import { loadFiltersFile } from '../pipelines/instruments.ts';
import type { AgentStageCounts } from '../operators/agents/agents.ts';
import type { LoadedStrategy } from '../strategies/kit/contract.ts';
import { backtestAgentStage } from '../agents/build-agents.ts';
import { loadFundingFile } from './data/index.ts';
import { runBacktest, type BacktestResult } from './run-backtest.ts';
import { headlineOf, runSeeds, summarizeSeeds, type SeedsSummary } from './seeds/seeds.ts';

/**
 * The options of one backtest run besides its settings and data, as `sapphire backtest` takes
 * them from its flags and result.json / a bundle record them (the `run` block). `sapphire backtest`
 * and `sapphire verify` both run a backtest through `runRecordedBacktest`, so an option added here
 * is honoured by the re-run as well as by the run.
 */
export const RunBlock = z.object({
  closeAtEnd: z.boolean(),
  allowGaps: z.boolean(),
  tapeMiss: z.enum(['error', 'skip']),
  /** the --funding file as given (null: none) */
  funding: z.string().nullable(),
  /** the --filters file as given (null: none) */
  filters: z.string().nullable(),
  seeds: z.number().int().min(1),
});
export type RunBlock = z.infer<typeof RunBlock>;

/** A run recorded without a run block: every option at its default. */
export const DEFAULT_RUN: RunBlock = {
  closeAtEnd: false,
  allowGaps: false,
  tapeMiss: 'error',
  funding: null,
  filters: null,
  seeds: 1,
};

export interface RecordedRunInput {
  settings: Settings;
  series: BarColumns[];
  from?: number;
  to?: number;
  run: RunBlock;
  /** where the run's input files are read: the paths as given (the CLI) or the bundled copies */
  inputPath: (name: 'funding' | 'filters') => string | undefined;
  /** funding when the run names no file (the CLI's FUNDING_CSV) */
  defaultFunding?: readonly FundingRate[];
  strategies?: readonly LoadedStrategy[];
  agentCounts?: AgentStageCounts;
  onProgress?: (done: number, total: number) => void;
}

export interface RecordedRunOutput {
  result: BacktestResult;
  /** the spread over the other seeds when run.seeds > 1 */
  seeds: SeedsSummary | undefined;
  /** the --filters file's filters, if any (the trades CSV needs them) */
  filters: ReadonlyMap<string, SymbolFilters> | undefined;
}

/** Runs one backtest with every option of its run block (and the other seeds, if asked). */
export async function runRecordedBacktest(input: RecordedRunInput): Promise<RecordedRunOutput> {
  const { settings, series, from, to, run } = input;
  const fundingPath = input.inputPath('funding');
  const fundingRates = fundingPath === undefined ? input.defaultFunding : loadFundingFile(fundingPath);
  const filtersPath = input.inputPath('filters');
  const filters = filtersPath === undefined ? undefined : loadFiltersFile(filtersPath);
  const result = runBacktest({
    settings,
    series,
    from,
    to,
    fundingRates,
    strategies: input.strategies,
    closeAtEnd: run.closeAtEnd,
    allowGaps: run.allowGaps,
    tapeMiss: run.tapeMiss,
    filters,
    shortData: 'error',
    // embedded agents, or remote ones replayed from AGENT_TAPE (never live calls in a backtest)
    agents: backtestAgentStage(settings, input.agentCounts ? { counts: input.agentCounts } : undefined),
    onProgress: input.onProgress,
  });
  let seeds: SeedsSummary | undefined;
  if (run.seeds > 1) {
    const others = Array.from({ length: run.seeds - 1 }, (_, i) => settings.SEED + 1 + i);
    const runs = await runSeeds({ settings, series, from, to, fundingRates }, others);
    seeds = summarizeSeeds([headlineOf(settings.SEED, result.metrics), ...runs]);
  }
  return { result, seeds, filters };
}
