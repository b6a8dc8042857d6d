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
import { runTuning, type FoldReport, type TuneReport } from '../../research/tune.ts';
import { summariseParams } from '../../research/analysis.ts';
import { writeEnvValues } from '../../research/env-writer.ts';
import { bestTrial } from '../../research/study.ts';
import { luckVerdict, type StudyLuck } from '../../research/trial-returns.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { applyStrategyFlag, strategiesAtEdge, STRATEGY_FLAG_USAGE } from '../kit/strategy-flag.ts';
import { strategyTuningSpace } from '../../research/strategy-space.ts';
import { progressBar } from '../kit/progress.ts';
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
  --storage S          journal file path (default .sapphire/studies.jsonl) or redis://host:6379
  --study NAME         study name (default: derived from the search, so re-running resumes it)
  --lease-ms MS        a running trial silent this long is taken over by another worker (default 60000)
  --seed N             sampler seed (default SEED)
  --seeds N            backtest the chosen values on the last test window under SEED … SEED+N−1
                       (worker threads): median and 5–95 % range of each headline figure
  --data DIR --symbols A,B --from YYYY-MM-DD --to YYYY-MM-DD   the bars (as in sapphire backtest)
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
    best: best ? { number: best.number, value: raw(best)!, params: best.params } : null,
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
    })),
    returnsBasis: report.returnsBasis,
    luck: report.luck,
    settings: { ...base },
  };
}

export async function run(rawArgv: string[]): Promise<number> {
  const { argv, writeEnv } = splitWriteEnv(rawArgv);
  const { values, positionals } = parseFlags(
    argv,
    {
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
      'lease-ms': { type: 'string' },
      'worker-id': { type: 'string' },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      data: { type: 'string' },
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      dotenv: { type: 'string' },
      out: { type: 'string' },
      html: { type: 'boolean' },
      force: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const envFile = values.dotenv ?? '.env';
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  applyStrategyFlag(values.strategy, overrides);
  let base: Settings = loadSettings({ envFile, overrides });
  await strategiesAtEdge(base, { envFile, overrides });

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
  const trials = intFlag('trials', values.trials, 1) ?? file.trials ?? base.TUNE_TRIALS;
  const minTrades = intFlag('min-trades', values['min-trades'], 0) ?? file.minTrades ?? base.TUNE_MIN_TRADES;
  const folds = intFlag('folds', values.folds, 1) ?? file.folds ?? base.TUNE_FOLDS;
  const workers = intFlag('workers', values.workers, 0) ?? base.TUNE_WORKERS;
  const seed = intFlag('seed', values.seed, 0) ?? file.seed ?? base.SEED;
  const leaseMs = intFlag('lease-ms', values['lease-ms'], 50) ?? 60_000;
  const seedRuns = intFlag('seeds', values.seeds, 1) ?? 1;
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

  // the data, as sapphire backtest reads it
  const dataDir = resolve(values.data ?? base.DATA_DIR);
  const explicit = values.symbols !== undefined || 'SYMBOLS' in overrides;
  let series = await loadDataset({ dir: dataDir, symbols: explicit ? base.SYMBOLS : undefined, from, to });
  if (!explicit) {
    const wanted = series.filter((c) => base.SYMBOLS.includes(c.symbol));
    series = wanted.length > 0 ? wanted : series;
  }
  const intervalMs = series[0]!.intervalMs;
  const interval = intervalMs % 3_600_000 === 0 ? `${intervalMs / 3_600_000}h` : `${intervalMs / 60_000}m`;
  if (!('BAR_INTERVAL' in overrides)) base = withOverrides(base, { BAR_INTERVAL: interval }, 'the data');
  base = withOverrides(base, { SYMBOLS: series.map((c) => c.symbol) }, 'the data');
  const symbols = series.map((c) => c.symbol);

  const digest = createHash('sha256')
    .update(
      JSON.stringify({
        space,
        objective,
        sampler,
        multivariate: values.multivariate === true,
        minTrades,
        folds,
        trainRatio,
        dataDir,
        symbols,
        from,
        to,
        overrides,
        seed,
      }),
    )
    .digest('hex')
    .slice(0, 10);
  const study = values.study ?? file.study ?? `tune-${objective}-${digest}`;
  const storageSpec = values.storage ?? (base.TUNE_STORAGE || '.sapphire/studies.jsonl');
  const storage = await openStorage(storageSpec);
  const workerId = values['worker-id'] ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  if (!values.quiet) {
    console.log(
      `Sapphire tune — study ${study}: ${sampler}, ${objective}, ${Object.keys(space).length} parameters, ` +
        `${folds} fold(s) × ${trials} trials, min ${minTrades} trades, ${workers} worker thread(s)\n` +
        `data ${dataDir} (${symbols.join(', ')}, ${interval}), storage ${storage.description}`,
    );
  }
  const bar = progressBar('tune');
  let report: TuneReport;
  try {
    report = await runTuning({
      base,
      series,
      source: { dir: dataDir, symbols, from, to },
      space,
      objective,
      minTrades,
      sampler,
      multivariate: values.multivariate === true,
      trials,
      workers,
      storage,
      study,
      folds,
      trainRatio,
      seed,
      workerId,
      leaseMs,
      onTrial: (fold, _t, all) => {
        const done = all.filter((t) => t.state !== 'running').length;
        const best = bestTrial(all);
        const raw = (best?.attrs as { raw?: number | null; feasible?: boolean } | undefined) ?? {};
        bar.update(fold * trials + done, folds * trials, `best ${raw.feasible ? fmt(raw.raw ?? null) : '—'}`);
      },
    });
  } finally {
    bar.done();
    await storage.close();
  }

  if (!values.quiet) console.log(formatReport(report, space));
  const chosen = report.chosen;
  if (chosen) {
    console.log(
      `\nchosen (fold ${report.folds.length} winner): ${Object.entries(chosen)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    console.log(`luck (fold ${report.folds.length}): ${formatLuck(report.luck)}`);
  } else {
    console.log(
      `\nno feasible winner in the last fold (every trial had fewer than ${minTrades} trades or an undefined ${objective})`,
    );
  }

  const seeds =
    chosen && seedRuns > 1 ? await seedsOfChosen(base, chosen, series, report.folds.at(-1)?.test, seedRuns) : undefined;
  if (seeds) console.log(`\n${formatSeedsTable(seeds)}`);

  if (values.out) {
    const outDir = resolve(values.out);
    mkdirSync(outDir, { recursive: true });
    const json = join(outDir, 'tune.json');
    writeFileSync(
      json,
      `${JSON.stringify({ study, storage: storage.description, dataDir, symbols, space, ...report, ...(seeds ? { seeds } : {}) }, null, 2)}\n`,
    );
    const written = [json];
    if (values.html) {
      const module = fileURLToPath(new URL('../../dashboard/reports/tune-html.ts', import.meta.url));
      const mod = existsSync(module)
        ? ((await import(module)) as {
            writeTuneHtml?: (path: string, study: unknown) => unknown;
            renderTuneHtml?: (study: unknown) => string;
          })
        : {};
      if (mod.writeTuneHtml || mod.renderTuneHtml) {
        const html = join(outDir, 'tune.html');
        const view = htmlView(report, study, symbols, base);
        if (mod.writeTuneHtml) await mod.writeTuneHtml(html, view);
        else writeFileSync(html, mod.renderTuneHtml!(view));
        written.push(html);
      } else {
        console.log('(--html skipped: dashboard/reports/tune-html.ts has no tune report renderer)');
      }
    }
    console.log(`written: ${written.join(', ')}`);
  }

  if (writeEnv !== undefined) {
    if (!chosen) {
      console.error(`sapphire: --write-env: nothing written, no feasible winner`);
      return 1;
    }
    const verdict = report.luck ? luckVerdict(report.luck) : null;
    if (verdict && !values.force) {
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
    // the values must be valid settings before anything touches the file
    withOverrides(base, chosen, 'the chosen values');
    const target = writeEnv === true ? envFile : writeEnv;
    const r = writeEnvValues(target, chosen, { note: `tuned by sapphire tune (study ${study}, ${objective})` });
    console.log(
      `wrote ${[...r.changed, ...r.added].join(', ')} into ${r.path}` +
        (r.backups.length ? ` (backup ${r.backups.join(', ')})` : ''),
    );
  }
  return 0;
}
