import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { OBJECTIVES, type ObjectiveName } from '../../research/objectives.ts';
import { parseParamsFlag, readStudyFile, type StudyFile } from '../../research/space-select.ts';
import { openStorage } from '../../research/storage/index.ts';
import { dataSpan, runTuning, type FoldReport, type TuneReport } from '../../research/tune.ts';
import { makeFolds } from '../../research/walk-forward.ts';
import { featureWarmUpBars } from '../../operators/features/features.ts';
import type { StudyStorage } from '../../research/storage/index.ts';
import type { BarColumns, FundingRate } from '../../pipelines/model/index.ts';
import { foldDisagreements, outOfSampleVerdict, roundChosen, strategyPartsLines } from '../kit/tune-output.ts';
import { summariseParams } from '../../research/analysis.ts';
import { writeEnvValues } from '../../research/env-writer.ts';
import { bestTrial } from '../../research/study.ts';
import { luckVerdict, type StudyLuck } from '../../research/trial-returns.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { applyStrategyFlag, strategiesAtEdge, STRATEGY_FLAG_USAGE } from '../kit/strategy-flag.ts';
import { strategyTuningSpace } from '../../research/strategy-space.ts';
import { progressBar } from '../kit/progress.ts';
import { fundingFor } from '../kit/default-funding.ts';
import { formatSeedsTable, seedsOfChosen } from '../../backtests/seeds/seeds.ts';

const USAGE = `usage: sapphire tune [options] [NAME=VALUE ...]

Searches strategy settings by running real backtests (TPE or random search), walk-forward: each
fold tunes on its train window and the winner is scored on the following, unseen test window.
Studies are stored and resumable; several processes (hosts, with Redis) can join one study.
With no data flag it uses the shipped sample (data/sample/perp-5m).

options:
${STRATEGY_FLAG_USAGE}
                      (tunes that strategy's parameters unless --params says otherwise;
                      --params STRATEGIES searches over which shipped strategies run)
  --params A,B:lo:hi   settings to tune by env name, optionally with a narrower range (default: all tunable)
  --study-file FILE    JSON study: {"params": [..] or {"NAME": {"low","high","log","step"}}, "objective",
                       "sampler", "trials", "minTrades", "folds", "trainRatio", "seed", "study"}
  --trials N           trials per fold (default TUNE_TRIALS)
  --objective NAME     ${OBJECTIVES.join(' | ')} (default TUNE_OBJECTIVE)
  --sampler S          tpe | random (default TUNE_SAMPLER)   --multivariate  TPE over all parameters jointly
  --min-trades N       a trial with fewer trades is penalised, never best (default TUNE_MIN_TRADES)
  --folds K            walk-forward folds (default TUNE_FOLDS)   --train-ratio R  train:test length (default 3)
  --workers N          worker threads running trials (default TUNE_WORKERS; 0 = in this thread)
  --storage S          journal file path (default OUT/studies.jsonl with --out, else
                       .sapphire/studies.jsonl) or redis://host:6379
  --study NAME         study name (default: derived from the search, so re-running resumes it)
  --fresh              start a new study even when this search was run before (the stored one is
                       kept; without --fresh a finished study is shown again, an unfinished one resumed)
  --lease-ms MS        a running trial silent this long is taken over by another worker (default 60000)
  --seed N             sampler seed (default SEED)
  --seeds N            backtest the chosen values on the last test window under SEED … SEED+N−1
                       (worker threads): median and 5–95 % range of each headline figure
  --data DIR --symbols A,B --from YYYY-MM-DD --to YYYY-MM-DD   the bars (as in sapphire backtest)
  --funding FILE       the funding history every trial pays (as in sapphire backtest; default FUNDING_CSV)
  --dotenv PATH        settings file read for the base settings (default .env)
  --write-env[=PATH]   write the chosen values into PATH (default: the env file), keeping every
                       other line and comment; backups PATH.bak and PATH.bak.<time>. Refused (exit 1)
                       when the winner looks like luck: PBO > 0.5 or Deflated Sharpe Ratio < 0.5
  --force              with --write-env: write even when PBO > 0.5 or DSR < 0.5
  --out DIR            also write tune.json there (default: nothing written)
  --html               with --out: tune.html (when the dashboard report module is installed)
  --quiet              only the summary lines
  NAME=VALUE           any fixed setting for every trial, e.g. SIZING_MODE=fixed`;

/** `--write-env` takes an optional value: `--write-env`, `--write-env=PATH` or `--write-env PATH`. */
function splitWriteEnv(argv: string[]): { argv: string[]; writeEnv: string | true | undefined } {
  const out: string[] = [];
  let writeEnv: string | true | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--write-env') {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-') && !/^[A-Z][A-Z0-9_]*=/.test(next)) {
        writeEnv = next;
        i++;
      } else writeEnv = true;
    } else if (a.startsWith('--write-env=')) {
      writeEnv = a.slice('--write-env='.length);
      if (writeEnv === '') throw new SapphireError('CLI_USAGE', '--write-env= needs a path');
    } else out.push(a);
  }
  return { argv: out, writeEnv };
}

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new SapphireError('CLI_USAGE', `--${name} ${JSON.stringify(v)}: expected a whole number ≥ ${min}`);
  return n;
}

const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : Number(v.toPrecision(digits + 1)).toString();
const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const showValue = (v: number | null, feasible: boolean) => (v === null ? '—' : feasible ? fmt(v) : 'penalised');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One line on how much of a study's winner is luck (DSR of the winner, PBO over its trials). */
export function formatLuck(l: StudyLuck | null): string {
  if (!l) return 'DSR —, PBO — (no study)';
  const dsr = l.dsr
    ? `DSR ${fmt(l.dsr.dsr)} (Sharpe ${fmt(l.dsr.sharpe)} vs ${fmt(l.dsr.benchmark)} expected from the best of ${l.dsr.trials} skill-less trials, per ${l.basis === 'daily' ? 'day' : 'bar'}, T ${l.dsr.observations}, skew ${fmt(l.dsr.skew, 2)}, kurtosis ${fmt(l.dsr.kurtosis, 2)})`
    : 'DSR —';
  const pbo = l.pbo
    ? `PBO ${fmt(l.pbo.pbo)} (CSCV, S ${l.pbo.blocks}, ${l.pbo.splits} splits, ${l.pbo.trials} trials)`
    : 'PBO —';
  return `${dsr}; ${pbo}${l.note ? ` — ${l.note}` : ''}`;
}

function trades(f: FoldReport['inSample']): string {
  return f.metrics ? String(f.metrics.trades) : '—';
}

export function formatReport(report: TuneReport, space: SearchSpace): string {
  const out: string[] = [];
  const o = report.objective;
  out.push(`\nWalk-forward: in-sample (train) vs out-of-sample (test), objective ${o}`);
  const rows = [['fold', 'train', 'test', 'trials', `IS ${o}`, `OOS ${o}`, 'IS trades', 'OOS trades', 'chosen values']];
  for (const f of report.folds) {
    rows.push([
      String(f.index + 1),
      `${day(f.train.from)} → ${day(f.train.to)}`,
      `${day(f.test.from)} → ${day(f.test.to)}`,
      String(f.trials.filter((t) => t.state !== 'running').length),
      showValue(f.inSample.raw ?? f.inSample.value, f.inSample.feasible),
      showValue(f.outOfSample.raw ?? f.outOfSample.value, f.outOfSample.feasible),
      trades(f.inSample),
      trades(f.outOfSample),
      f.best
        ? Object.entries(f.best.params)
            .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v, 4) : v}`)
            .join(' ')
        : '—',
    ]);
  }
  out.push(table(rows));
  out.push(...strategyPartsLines(report.folds));
  out.push(
    `Sharpe and Sortino of every window use ${report.returnsBasis === 'daily' ? 'daily returns (00:00 UTC)' : 'per-bar returns'}, chosen once from the whole data's span`,
  );
  out.push('\nHow much of each winner is luck (DSR ≥ 0.5 and PBO ≤ 0.5 to --write-env without --force)');
  for (const f of report.folds) out.push(`  fold ${f.index + 1}: ${formatLuck(f.luck)}`);
  const last = report.folds.at(-1);
  if (last) {
    const names = Object.keys(space);
    const top = last.trials
      .filter((t) => t.state === 'complete')
      .sort((a, b) => b.value! - a.value!)
      .slice(0, 5);
    out.push(`\nTop trials (fold ${last.index + 1}, train window)`);
    const trows = [['#', o, 'trades', ...names]];
    for (const t of top) {
      const a = t.attrs as { feasible?: boolean; raw?: number | null; metrics?: { trades: number } } | undefined;
      trows.push([
        String(t.number),
        a?.feasible === false ? 'penalised' : fmt(a?.raw ?? t.value),
        String(a?.metrics?.trades ?? '—'),
        ...names.map((n) => {
          const v = t.params[n];
          return typeof v === 'number' ? fmt(v, 4) : String(v);
        }),
      ]);
    }
    out.push(table(trows));
    out.push(
      `\nParameters (fold ${last.index + 1}): best value, range among the top 10 %, importance = |Spearman ρ| with ${o}`,
    );
    const prow = [['parameter', 'best', 'top-10% range', 'importance']];
    for (const p of summariseParams(last.trials, space)) {
      prow.push([
        p.name,
        typeof p.best === 'number' ? fmt(p.best, 4) : String(p.best ?? '—'),
        p.topLow === null ? '—' : `${fmt(p.topLow, 4)} … ${fmt(p.topHigh, 4)}`,
        fmt(p.importance, 2),
      ]);
    }
    out.push(table(prow));
  }
  return out.join('\n');
}

/** The study as the dashboard's tune report reads it: the last fold's trials, every fold's IS/OOS. */
function htmlView(report: TuneReport, study: string, symbols: string[], base: Settings) {
  const last = report.folds.at(-1);
  const raw = (t: { attrs?: Record<string, unknown> }) => {
    const a = t.attrs as { raw?: number | null; feasible?: boolean } | undefined;
    return a?.feasible ? (a.raw ?? null) : null;
  };
  const best = last?.best && raw(last.best) !== null ? last.best : null;
  return {
    name: study,
    objective: report.objective,
    direction: 'maximize',
    sampler: report.sampler,
    symbols,
    from: report.folds[0]?.train.from,
    to: last?.test.to,
    trials: (last?.trials ?? []).map((t) => {
      const a = t.attrs as { feasible?: boolean; metrics?: Record<string, number | null> } | undefined;
      return {
        number: t.number,
        params: t.params,
        value: raw(t),
        state: t.state === 'complete' && a?.feasible === false ? 'infeasible' : t.state,
        metrics: a?.metrics,
      };
    }),
    best: best ? { number: best.number, value: raw(best)!, params: best.params, fold: last!.index + 1 } : null,
    folds: report.folds.map((f) => ({
      fold: f.index + 1,
      trainFrom: f.train.from,
      trainTo: f.train.to,
      testFrom: f.test.from,
      testTo: f.test.to,
      inSample: f.inSample.feasible ? f.inSample.raw : null,
      outOfSample: f.outOfSample.feasible ? f.outOfSample.raw : null,
      params: f.best?.params ?? {},
      dsr: f.luck.dsr?.dsr ?? null,
      pbo: f.luck.pbo?.pbo ?? null,
      strategies: { inSample: f.inSample.strategies, outOfSample: f.outOfSample.strategies },
    })),
    returnsBasis: report.returnsBasis,
    luck: report.luck,
    settings: { ...base },
  };
}

const FLAGS = {
  strategy: { type: 'string' },
  params: { type: 'string' },
  'study-file': { type: 'string' },
  trials: { type: 'string' },
  objective: { type: 'string' },
  sampler: { type: 'string' },
  multivariate: { type: 'boolean' },
  'min-trades': { type: 'string' },
  folds: { type: 'string' },
  'train-ratio': { type: 'string' },
  workers: { type: 'string' },
  storage: { type: 'string' },
  study: { type: 'string' },
  fresh: { type: 'boolean' },
  'lease-ms': { type: 'string' },
  'worker-id': { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  data: { type: 'string' },
  funding: { type: 'string' },
  symbols: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  dotenv: { type: 'string' },
  out: { type: 'string' },
  html: { type: 'boolean' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

/** The search as the flags, the study file and the settings define it (flags win). */
interface Search {
  space: SearchSpace;
  objective: ObjectiveName;
  sampler: 'tpe' | 'random';
  trials: number;
  minTrades: number;
  folds: number;
  workers: number;
  seed: number;
  leaseMs: number;
  seedRuns: number;
  trainRatio: number;
  from: number | undefined;
  to: number | undefined;
  file: StudyFile;
}

function resolveSearch(values: Flags, base: Settings): Search {
  const file: StudyFile = values['study-file'] ? readStudyFile(values['study-file']) : {};
  const tunable = strategyTuningSpace(base.STRATEGIES, values.strategy !== undefined);
  const space =
    values.params !== undefined || !file.space
      ? values.params === undefined
        ? tunable.byDefault
        : parseParamsFlag(values.params, tunable.declared)
      : file.space;
  const objective = (values.objective ?? file.objective ?? base.TUNE_OBJECTIVE) as ObjectiveName;
  if (!OBJECTIVES.includes(objective)) {
    throw new SapphireError(
      'CLI_USAGE',
      `--objective ${JSON.stringify(objective)}: use one of ${OBJECTIVES.join(', ')}`,
    );
  }
  const sampler = values.sampler ?? file.sampler ?? base.TUNE_SAMPLER;
  if (sampler !== 'tpe' && sampler !== 'random') {
    throw new SapphireError('CLI_USAGE', `--sampler ${JSON.stringify(sampler)}: use tpe or random`);
  }
  let trainRatio = file.trainRatio ?? 3;
  if (values['train-ratio'] !== undefined) {
    trainRatio = Number(values['train-ratio']);
    if (!(trainRatio > 0))
      throw new SapphireError('CLI_USAGE', `--train-ratio ${values['train-ratio']}: expected a number > 0`);
  }
  const from = parseDate('from', values.from);
  const to = parseDate('to', values.to);
  if (from !== undefined && to !== undefined && from >= to) {
    throw new SapphireError('CLI_USAGE', `--from ${values.from} is not before --to ${values.to}`);
  }
  if (values.html && !values.out) throw new SapphireError('CLI_USAGE', '--html needs --out DIR');
  return {
    space,
    objective,
    sampler,
    trials: intFlag('trials', values.trials, 1) ?? file.trials ?? base.TUNE_TRIALS,
    minTrades: intFlag('min-trades', values['min-trades'], 0) ?? file.minTrades ?? base.TUNE_MIN_TRADES,
    folds: intFlag('folds', values.folds, 1) ?? file.folds ?? base.TUNE_FOLDS,
    workers: intFlag('workers', values.workers, 0) ?? base.TUNE_WORKERS,
    seed: intFlag('seed', values.seed, 0) ?? file.seed ?? base.SEED,
    leaseMs: intFlag('lease-ms', values['lease-ms'], 50) ?? 60_000,
    seedRuns: intFlag('seeds', values.seeds, 1) ?? 1,
    trainRatio,
    from,
    to,
    file,
  };
}

/** The bars, as sapphire backtest reads them, and the base settings narrowed to them. */
async function loadTuneData(values: Flags, base: Settings, overrides: Record<string, unknown>, search: Search) {
  const dataDir = resolve(values.data ?? base.DATA_DIR);
  const explicit = values.symbols !== undefined || 'SYMBOLS' in overrides;
  let series = await loadDataset({
    dir: dataDir,
    symbols: explicit ? base.SYMBOLS : undefined,
    from: search.from,
    to: search.to,
  });
  if (!explicit) {
    const wanted = series.filter((c) => base.SYMBOLS.includes(c.symbol));
    series = wanted.length > 0 ? wanted : series;
  }
  const intervalMs = series[0]!.intervalMs;
  const interval = intervalMs % 3_600_000 === 0 ? `${intervalMs / 3_600_000}h` : `${intervalMs / 60_000}m`;
  let settings = base;
  if (!('BAR_INTERVAL' in overrides)) settings = withOverrides(settings, { BAR_INTERVAL: interval }, 'the data');
  settings = withOverrides(settings, { SYMBOLS: series.map((c) => c.symbol) }, 'the data');
  const fundingRates = fundingFor(values.funding, settings.FUNDING_CSV);
  return { dataDir, series, interval, base: settings, symbols: series.map((c) => c.symbol), fundingRates };
}

/**
 * A warning when the folds cut the data into test windows too short to say much: under two
 * warm-ups of the indicators or under one day of bars.
 */
export function foldsWarning(series: readonly BarColumns[], search: Search, base: Settings): string | null {
  const span = dataSpan(series);
  const folds = makeFolds({ ...span, folds: search.folds, trainRatio: search.trainRatio });
  const test = folds[0]!.test;
  const bars = Math.round((test.to - test.from) / span.intervalMs);
  const wanted = Math.max(2 * featureWarmUpBars(base), Math.round(86_400_000 / span.intervalMs));
  if (bars >= wanted) return null;
  return (
    `--folds ${search.folds}: each test window is only ${bars} bars (${day(test.from)} → ${day(test.to)}); ` +
    `under ${wanted} bars an out-of-sample score says little. Fewer folds, or more data, give each window more bars`
  );
}

/** The study's name: given, or a digest of everything that defines the search (so a re-run resumes it). */
function studyName(
  values: Flags,
  search: Search,
  data: { dataDir: string; symbols: string[] },
  overrides: object,
): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify({
        space: search.space,
        objective: search.objective,
        sampler: search.sampler,
        multivariate: values.multivariate === true,
        minTrades: search.minTrades,
        folds: search.folds,
        trainRatio: search.trainRatio,
        dataDir: data.dataDir,
        symbols: data.symbols,
        from: search.from,
        to: search.to,
        overrides,
        seed: search.seed,
      }),
    )
    .digest('hex')
    .slice(0, 10);
  return values.study ?? search.file.study ?? `tune-${search.objective}-${digest}`;
}

const foldStudy = (study: string, fold: number, folds: number) => `${study}.fold${fold + 1}of${folds}`;

async function finishedTrials(storage: StudyStorage, study: string, folds: number): Promise<number> {
  let done = 0;
  for (let i = 0; i < folds; i++) done += (await storedTrials(storage, foldStudy(study, i, folds))).length;
  return done;
}

/** A study's finished trials; none when the store has never seen the study. */
async function storedTrials(storage: StudyStorage, study: string) {
  try {
    return (await storage.trials(study)).filter((t) => t.state !== 'running');
  } catch (error) {
    if (error instanceof SapphireError && error.code === 'STUDY_STORAGE' && /is not open/.test(error.message))
      return [];
    throw error;
  }
}

/**
 * Says what a stored study holds before running. With --fresh, the first name `STUDY-2`,
 * `STUDY-3`… that has no trials yet (the stored study is kept, never deleted).
 */
async function openOrFresh(storage: StudyStorage, study: string, search: Search, fresh: boolean) {
  const wanted = search.folds * search.trials;
  let done = await finishedTrials(storage, study, search.folds);
  if (fresh && done > 0) {
    let n = 2;
    while ((await finishedTrials(storage, `${study}-${n}`, search.folds)) > 0) n++;
    return { study: `${study}-${n}`, note: `--fresh: new study ${study}-${n} (${study} keeps its ${done} trials)` };
  }
  if (done === 0) return { study, note: null };
  done = Math.min(done, wanted);
  const note =
    done >= wanted
      ? `study exists: ${done}/${wanted} trials done (${storage.description}); showing its result. ` +
        '--fresh starts a new study, --trials N with a larger N adds trials'
      : `study exists: ${done}/${wanted} trials done (${storage.description}); resuming`;
  return { study, note };
}

export async function run(rawArgv: string[]): Promise<number> {
  const { argv, writeEnv } = splitWriteEnv(rawArgv);
  const { values, positionals } = parseFlags(argv, FLAGS, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const envFile = values.dotenv ?? '.env';
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE, values.strategy);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  applyStrategyFlag(values.strategy, overrides);
  const loaded = loadSettings({ envFile, overrides });
  await strategiesAtEdge(loaded, { envFile, overrides });
  const search = resolveSearch(values, loaded);
  const data = await loadTuneData(values, loaded, overrides, search);
  const warning = foldsWarning(data.series, search, data.base);
  if (warning) console.error(`warning: ${warning}`);
  const defaultStore = values.out ? join(resolve(values.out), 'studies.jsonl') : '.sapphire/studies.jsonl';
  const storage = await openStorage(values.storage ?? (data.base.TUNE_STORAGE || defaultStore));
  let report: TuneReport;
  let study: string;
  try {
    const opened = await openOrFresh(
      storage,
      studyName(values, search, data, overrides),
      search,
      values.fresh === true,
    );
    study = opened.study;
    if (!values.quiet) printHeader(study, search, data, storage.description);
    if (opened.note) console.log(opened.note);
    report = await tuneWithProgress(values, search, data, storage, study);
  } finally {
    await storage.close();
  }
  if (!values.quiet) console.log(formatReport(report, search.space));
  printOutcome(report, search);
  const seeds =
    report.chosen && search.seedRuns > 1
      ? await seedsOfChosen(data.base, report.chosen, data.series, report.folds.at(-1)?.test, search.seedRuns)
      : undefined;
  if (seeds) console.log(`\n${formatSeedsTable(seeds)}`);
  if (values.out)
    await writeOutputs(values.out, values.html === true, {
      study,
      storage: storage.description,
      data,
      search,
      report,
      seeds,
    });
  if (writeEnv === undefined) return 0;
  return writeChosenEnv(
    writeEnv === true ? envFile : writeEnv,
    report,
    search,
    data.base,
    study,
    values.force === true,
  );
}

function printHeader(
  study: string,
  search: Search,
  data: { dataDir: string; symbols: string[]; interval: string },
  store: string,
) {
  console.log(
    `Sapphire tune — study ${study}: ${search.sampler}, ${search.objective}, ${Object.keys(search.space).length} parameters, ` +
      `${search.folds} fold(s) × ${search.trials} trials, min ${search.minTrades} trades, ${search.workers} worker thread(s)\n` +
      `data ${data.dataDir} (${data.symbols.join(', ')}, ${data.interval}), storage ${store}`,
  );
}

/** Runs the study with a progress line naming the fold and that fold's best so far. */
async function tuneWithProgress(
  values: Flags,
  search: Search,
  data: {
    dataDir: string;
    series: BarColumns[];
    symbols: string[];
    base: Settings;
    fundingRates: FundingRate[] | undefined;
  },
  storage: StudyStorage,
  study: string,
): Promise<TuneReport> {
  const bar = progressBar('tune');
  try {
    return await runTuning({
      base: data.base,
      series: data.series,
      source: { dir: data.dataDir, symbols: data.symbols, from: search.from, to: search.to },
      space: search.space,
      objective: search.objective,
      minTrades: search.minTrades,
      sampler: search.sampler,
      multivariate: values.multivariate === true,
      trials: search.trials,
      workers: search.workers,
      storage,
      study,
      folds: search.folds,
      trainRatio: search.trainRatio,
      seed: search.seed,
      workerId: values['worker-id'] ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      leaseMs: search.leaseMs,
      fundingRates: data.fundingRates,
      onTrial: (fold, _t, all) => {
        const done = all.filter((t) => t.state !== 'running').length;
        const raw = (bestTrial(all)?.attrs as { raw?: number | null; feasible?: boolean } | undefined) ?? {};
        const best = raw.feasible ? fmt(raw.raw ?? null) : '—';
        bar.update(
          fold * search.trials + done,
          search.folds * search.trials,
          `fold ${fold + 1}/${search.folds}, fold best ${search.objective} ${best}`,
        );
      },
    });
  } finally {
    bar.done();
  }
}

/** The chosen values, the luck line, the out-of-sample verdict and any disagreement between folds. */
function printOutcome(report: TuneReport, search: Search): void {
  const chosen = report.chosen;
  if (chosen) {
    const rounded = roundChosen(chosen, search.space);
    console.log(
      `\nchosen (fold ${report.folds.length} winner, rounded to each setting's step): ${Object.entries(rounded)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    console.log(`luck (fold ${report.folds.length}): ${formatLuck(report.luck)}`);
  } else {
    console.log(
      `\nno feasible winner in the last fold (every trial had fewer than ${search.minTrades} trades or an undefined ${search.objective})`,
    );
  }
  console.log(outOfSampleVerdict(report.folds, search.objective));
  const disagree = foldDisagreements(report.folds, search.space);
  if (disagree.length > 0)
    console.error(
      `warning: the folds' winners disagree (the last fold's value is the one written): ${disagree.join('; ')}`,
    );
}

async function writeOutputs(
  out: string,
  html: boolean,
  o: {
    study: string;
    storage: string;
    data: { dataDir: string; symbols: string[]; base: Settings };
    search: Search;
    report: TuneReport;
    seeds: unknown;
  },
): Promise<void> {
  const outDir = resolve(out);
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'tune.json');
  const doc = {
    study: o.study,
    storage: o.storage,
    dataDir: o.data.dataDir,
    symbols: o.data.symbols,
    space: o.search.space,
    ...o.report,
  };
  writeFileSync(json, `${JSON.stringify(o.seeds ? { ...doc, seeds: o.seeds } : doc, null, 2)}\n`);
  const written = [json];
  if (html) {
    const module = fileURLToPath(new URL('../../dashboard/reports/tune-html.ts', import.meta.url));
    const mod = existsSync(module)
      ? ((await import(module)) as {
          writeTuneHtml?: (path: string, study: unknown) => unknown;
          renderTuneHtml?: (study: unknown) => string;
        })
      : {};
    if (mod.writeTuneHtml || mod.renderTuneHtml) {
      const file = join(outDir, 'tune.html');
      const view = htmlView(o.report, o.study, o.data.symbols, o.data.base);
      if (mod.writeTuneHtml) await mod.writeTuneHtml(file, view);
      else writeFileSync(file, mod.renderTuneHtml!(view));
      written.push(file);
    } else {
      console.log('(--html skipped: dashboard/reports/tune-html.ts has no tune report renderer)');
    }
  }
  console.log(`written: ${written.join(', ')}`);
}

/** `--write-env`: the last fold's winner, rounded to each setting's step, unless it looks like luck. */
function writeChosenEnv(
  target: string,
  report: TuneReport,
  search: Search,
  base: Settings,
  study: string,
  force: boolean,
): number {
  if (!report.chosen) {
    console.error(`sapphire: --write-env: nothing written, no feasible winner`);
    return 1;
  }
  const verdict = report.luck ? luckVerdict(report.luck) : null;
  if (verdict && !force) {
    const l = report.luck!;
    console.error(
      `sapphire: --write-env: nothing written: the winner of fold ${report.folds.length} is likely luck (${verdict}). ` +
        `DSR ${fmt(l.dsr?.dsr)}, PBO ${fmt(l.pbo?.pbo)}; writing needs DSR ≥ 0.5 and PBO ≤ 0.5. ` +
        `More data, fewer trials or fewer parameters help; --force writes it anyway.`,
    );
    return 1;
  }
  if (verdict) console.log(`--force: writing despite ${verdict}`);
  else if (!report.luck?.dsr || !report.luck.pbo) console.log(`note: ${formatLuck(report.luck)}`);
  const values = roundChosen(report.chosen, search.space);
  // the values must be valid settings before anything touches the file
  withOverrides(base, values, 'the chosen values');
  const r = writeEnvValues(target, values, { note: `tuned by sapphire tune (study ${study}, ${search.objective})` });
  console.log(
    `wrote ${[...r.changed, ...r.added].join(', ')} into ${r.path}` +
      (r.backups.length ? ` (backup ${r.backups.join(', ')})` : ''),
  );
  return 0;
}
