import { fileStrategyValues } from '../../strategies/registry.ts';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BarColumns, FundingRate } from '../../pipelines/model/index.ts';
import { SapphireError, type ErrorCode } from '../../pipelines/errors.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import type { BacktestMetrics } from '../report/metrics.ts';

/**
 * `--seeds N`: the same backtest under N seeds (SEED, SEED+1, …) in worker threads, so a reader
 * sees how much of a result is the bandit's dice. Each headline figure is reported as the median
 * and the 5–95 % range over the seeds.
 */

/** What a seed worker (`seed-worker.ts`, started by URL) is given and answers. */
export interface SeedJob {
  settings: Record<string, unknown>;
  series: BarColumns[];
  from?: number;
  to?: number;
  fundingRates?: FundingRate[];
  /** values for strategy files' own settings (see preloadStrategies) */
  strategyValues?: Record<string, unknown>;
}

export type SeedReply =
  | { ready: true }
  | { seed: number; ok: true; headline: SeedHeadline }
  | { seed: number; ok: false; error: string; code?: ErrorCode };

/** The figures compared across seeds (the headline of one run). */
export interface SeedHeadline {
  seed: number;
  trades: number;
  winRate: number;
  netProfit: number;
  totalReturnPct: number;
  sharpe: number;
  maxDrawdownPct: number;
  profitFactor: number;
  /** trades opened by bandit explorations, as a share of all trades (%) */
  exploredPct: number;
  fundedTrades: number;
}

export const HEADLINE_FIGURES = [
  'trades',
  'winRate',
  'netProfit',
  'totalReturnPct',
  'sharpe',
  'maxDrawdownPct',
  'profitFactor',
  'exploredPct',
  'fundedTrades',
] as const satisfies readonly (keyof SeedHeadline)[];
export type HeadlineFigure = (typeof HEADLINE_FIGURES)[number];

export interface FigureSpread {
  median: number;
  p5: number;
  p95: number;
  /** seeds where the figure does not exist (profit factor without a loss, Sharpe without variance) */
  missing: number;
}

export interface SeedsSummary {
  seeds: number[];
  figures: Record<HeadlineFigure, FigureSpread>;
  runs: SeedHeadline[];
}

export function headlineOf(seed: number, m: BacktestMetrics): SeedHeadline {
  const explored = m.byFunding.find((g) => g.key === 'explored')?.trades ?? 0;
  return {
    seed,
    trades: m.trades,
    winRate: m.winRate,
    netProfit: m.netProfit,
    totalReturnPct: m.totalReturnPct,
    sharpe: m.sharpe,
    maxDrawdownPct: m.maxDrawdownPct,
    profitFactor: m.profitFactor,
    exploredPct: m.trades > 0 ? (100 * explored) / m.trades : Number.NaN,
    fundedTrades: m.trades - explored,
  };
}

/**
 * The q-quantile of sorted values by linear interpolation between order statistics (R's type 7,
 * numpy's default): with 20 seeds, p5 lies between the 1st and 2nd smallest.
 */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function summarizeSeeds(runs: readonly SeedHeadline[]): SeedsSummary {
  const figures = {} as Record<HeadlineFigure, FigureSpread>;
  for (const f of HEADLINE_FIGURES) {
    const values = runs
      .map((r) => r[f])
      .filter((v) => Number.isFinite(v))
      .sort((a, b) => a - b);
    figures[f] = {
      median: quantileSorted(values, 0.5),
      p5: quantileSorted(values, 0.05),
      p95: quantileSorted(values, 0.95),
      missing: runs.length - values.length,
    };
  }
  const sorted = [...runs].sort((a, b) => a.seed - b.seed);
  return { seeds: sorted.map((r) => r.seed), figures, runs: sorted };
}

const LABELS: Record<HeadlineFigure, string> = {
  trades: 'trades',
  winRate: 'win rate (%)',
  netProfit: 'net profit (USDT)',
  totalReturnPct: 'total return (%)',
  sharpe: 'Sharpe',
  maxDrawdownPct: 'max drawdown (%)',
  profitFactor: 'profit factor',
  exploredPct: 'explorations (% of trades)',
  fundedTrades: 'funded trades',
};

export function formatSeedsTable(s: SeedsSummary): string {
  const f = (v: number, scale = 1) => (Number.isFinite(v) ? (v * scale).toFixed(2) : '—');
  const width = Math.max(...Object.values(LABELS).map((l) => l.length));
  const first = s.seeds[0];
  const last = s.seeds.at(-1);
  const lines = [
    `Across ${s.seeds.length} seeds (SEED ${first}…${last}): median and 5–95 % range`,
    `  ${'figure'.padEnd(width)}  ${'median'.padStart(10)}  ${'5 %'.padStart(10)}  ${'95 %'.padStart(10)}`,
  ];
  for (const k of HEADLINE_FIGURES) {
    const scale = k === 'winRate' ? 100 : 1;
    const x = s.figures[k];
    const note = x.missing > 0 ? `  (${x.missing} seed(s) without a value)` : '';
    lines.push(
      `  ${LABELS[k].padEnd(width)}  ${f(x.median, scale).padStart(10)}  ${f(x.p5, scale).padStart(10)}  ${f(x.p95, scale).padStart(10)}${note}`,
    );
  }
  return lines.join('\n');
}

function tsxSpecifier(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
  }
}
const WORKER_URL = new URL('./seed-worker.ts', import.meta.url);
// worker threads do not inherit tsx's loader on Node 20: register it in the thread first (as research/worker-pool.ts)
const BOOT = `import(${JSON.stringify(tsxSpecifier())}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;

export interface SeedRunInput {
  settings: Settings;
  series: readonly BarColumns[];
  from?: number;
  to?: number;
  fundingRates?: readonly FundingRate[];
}

/**
 * Backtests `seeds` in up to `workers` threads (each thread takes the next seed when it is free)
 * and returns their headlines in seed order. A failed run fails the whole call with its message.
 */
export async function runSeeds(
  input: SeedRunInput,
  seeds: readonly number[],
  workers = availableParallelism(),
): Promise<SeedHeadline[]> {
  if (seeds.length === 0) return [];
  const queue = [...seeds];
  const out: SeedHeadline[] = [];
  const job: SeedJob = {
    settings: { ...input.settings },
    series: input.series.map((c) => ({ ...c })),
    from: input.from,
    to: input.to,
    fundingRates: input.fundingRates ? [...input.fundingRates] : undefined,
    strategyValues: { ...fileStrategyValues() },
  };
  const threads = Math.max(1, Math.min(workers, seeds.length));
  const running: Worker[] = [];
  const one = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(BOOT, { eval: true, workerData: job });
      running.push(worker);
      let settled = false;
      const fail = (why: string, code?: ErrorCode) => {
        if (settled) return;
        settled = true;
        reject(code ? new SapphireError(code, why) : new Error(`--seeds: ${why}`));
      };
      const next = () => {
        const seed = queue.shift();
        if (seed === undefined) {
          settled = true;
          resolve();
          return;
        }
        worker.postMessage(seed);
      };
      worker.on('message', (msg: SeedReply) => {
        if ('ready' in msg) return next();
        if (!msg.ok) return fail(`SEED=${msg.seed}: ${msg.error}`, msg.code);
        out.push(msg.headline);
        next();
      });
      worker.on('error', (e) => fail(e.message));
      worker.on('exit', (code) => {
        if (!settled) fail(`worker exited with code ${code}`);
      });
    });
  try {
    await Promise.all(Array.from({ length: threads }, one));
  } finally {
    await Promise.all(running.map((w) => w.terminate()));
  }
  return out.sort((a, b) => a.seed - b.seed);
}

/**
 * `sapphire tune --seeds N`: the chosen values backtested under SEED … SEED+N−1 over `window`
 * (the last fold's unseen test window), so a winner's figures come with their spread over seeds.
 */
export async function seedsOfChosen(
  base: Settings,
  chosen: Record<string, unknown>,
  series: readonly BarColumns[],
  window: { from: number; to: number } | undefined,
  count: number,
): Promise<SeedsSummary> {
  const settings = withOverrides(base, chosen, 'the chosen values');
  const seeds = Array.from({ length: count }, (_, i) => settings.SEED + i);
  return summarizeSeeds(await runSeeds({ settings, series, from: window?.from, to: window?.to }, seeds));
}
