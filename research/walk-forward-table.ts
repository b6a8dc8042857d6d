/**
 * The README's table of shipped strategies, walk-forward tuned: one row per strategy from the
 * `tune.json` its study wrote (`sapphire tune --strategy NAME … --out DIR/NAME`), every fold's
 * in-sample and out-of-sample Sharpe, the out-of-sample trades and return, and how much of each
 * fold's winner is luck (Deflated Sharpe Ratio, PBO). Losers are rows like any other.
 *   npx tsx research/walk-forward-table.ts DIR [NAME[:LABEL],…]
 * (default names: every shipped strategy; NAME is the study's folder under DIR, LABEL the row's
 * name when it is not a strategy's; a missing study is an error naming its file)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SapphireError } from '../pipelines/errors.ts';

/** What the table reads of one fold of a tune.json (TuneReport's FoldReport, as written). */
interface StoredFold {
  train: { from: number; to: number };
  test: { from: number; to: number };
  trials: readonly { state: string }[];
  inSample: { raw: number | null; feasible: boolean };
  outOfSample: { raw: number | null; feasible: boolean; metrics: { trades: number; totalReturnPct: number } | null };
  luck: { dsr: { dsr: number } | null; pbo: { pbo: number } | null };
}

export interface StoredTune {
  objective: string;
  folds: readonly StoredFold[];
  chosen: Readonly<Record<string, unknown>> | null;
}

export interface WalkForwardRow {
  strategy: string;
  trialsPerFold: number;
  /** per fold; null when no trial had enough trades (the fold's winner is penalised) */
  inSample: (number | null)[];
  outOfSample: (number | null)[];
  outOfSampleTrades: number;
  /** the out-of-sample windows' returns compounded, percent */
  outOfSampleReturnPct: number;
  dsr: (number | null)[];
  pbo: (number | null)[];
  chosen: Readonly<Record<string, unknown>> | null;
}

/** One row from a study: every fold in order, nothing averaged away. */
export function walkForwardRow(strategy: string, tune: StoredTune): WalkForwardRow {
  const folds = tune.folds;
  let growth = 1;
  for (const f of folds) growth *= 1 + (f.outOfSample.metrics?.totalReturnPct ?? 0) / 100;
  return {
    strategy,
    trialsPerFold: Math.max(0, ...folds.map((f) => f.trials.filter((t) => t.state !== 'running').length)),
    inSample: folds.map((f) => (f.inSample.feasible ? f.inSample.raw : null)),
    outOfSample: folds.map((f) => (f.outOfSample.feasible ? f.outOfSample.raw : null)),
    outOfSampleTrades: folds.reduce((n, f) => n + (f.outOfSample.metrics?.trades ?? 0), 0),
    outOfSampleReturnPct: (growth - 1) * 100,
    // a fold without a feasible winner (no trial traded enough) has no winner to judge: its
    // trials' all-zero returns would give a meaningless DSR 0.5 and PBO 1
    dsr: folds.map((f) => (f.inSample.feasible ? (f.luck.dsr?.dsr ?? null) : null)),
    pbo: folds.map((f) => (f.inSample.feasible ? (f.luck.pbo?.pbo ?? null) : null)),
    chosen: tune.chosen,
  };
}

const cell = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const perFold = (vs: readonly (number | null)[], digits = 2) => vs.map((v) => cell(v, digits)).join(' / ');
const valueText = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v));

export function formatWalkForwardTable(rows: readonly WalkForwardRow[]): string {
  const out = [
    '| strategy | IS Sharpe (folds 1 / 2 / 3) | OOS Sharpe | OOS trades | OOS return | DSR | PBO | last fold’s winner |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const chosen = r.chosen
      ? Object.entries(r.chosen)
          .map(([k, v]) => `${k}=${valueText(v)}`)
          .join(' ')
      : '— (no feasible winner)';
    out.push(
      `| ${r.strategy} | ${perFold(r.inSample)} | ${perFold(r.outOfSample)} | ${r.outOfSampleTrades} | ` +
        `${r.outOfSampleReturnPct.toFixed(2)} % | ${perFold(r.dsr)} | ${perFold(r.pbo)} | ${chosen} |`,
    );
  }
  return out.join('\n');
}

/** Reads DIR/NAME/tune.json; a missing or unreadable one is an error naming the file. */
export function readStudy(dir: string, name: string): StoredTune {
  const file = join(dir, name, 'tune.json');
  if (!existsSync(file))
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `${file}: no study (run: npm run tune -- --strategy ${name} … --out ${join(dir, name)})`,
    );
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredTune;
  } catch (error) {
    throw new SapphireError('DATA_NOT_FOUND', `${file}: ${(error as Error).message}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { shippedNames } = await import('../strategies/registry.ts');
  const [dir, names] = process.argv.slice(2);
  if (dir === undefined) {
    console.error('usage: npx tsx research/walk-forward-table.ts DIR [NAME[:LABEL],…]');
    process.exit(1);
  }
  try {
    const rows = (names?.split(',') ?? shippedNames()).map((entry) => {
      const cut = entry.indexOf(':');
      const name = cut < 0 ? entry : entry.slice(0, cut);
      return walkForwardRow(cut < 0 ? name : entry.slice(cut + 1), readStudy(dir, name));
    });
    console.log(formatWalkForwardTable(rows));
  } catch (error) {
    console.error(`walk-forward-table: ${(error as Error).message}`);
    process.exit(1);
  }
}
