import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Observable } from 'rxjs';
import {
  FLOW_KEYS,
  flowAt,
  makeBar,
  sliceRows,
  type Bar,
  type BarColumns,
  type FlowColumns,
  type FundingRate,
} from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { inferInterval, parseBarCsv, type ParsedBars } from './csv-bars.ts';
import { readBarsWithDuckDB } from './duckdb-bars.ts';
import { loadFundingFile } from './funding-files.ts';
import { checkGaps, findGaps, type DataGap } from './gaps.ts';

export { parseBarCsv, inferInterval, validateColumns, detectFormat } from './csv-bars.ts';
export { loadFundingFile, parseFundingCsv, parseFundingJson } from './funding-files.ts';
export { checkGaps, describeGap, findGaps, type DataGap } from './gaps.ts';

/** Above this size a plain CSV goes through DuckDB (see bench: "data" rows in the README). */
export const DUCKDB_CSV_THRESHOLD_BYTES = 64 * 1024 * 1024;

const BAR_FILE = /\.(csv|csv\.gz|parquet)$/i;

/**
 * The symbol a file holds, from its name: `BTCUSDT.csv.gz`, `BTCUSDT-5m-2025-01.csv` (Binance
 * dumps), `BTC_USDT-5m.parquet` and `BTC_USDT_USDT-5m-futures.csv` (freqtrade spot/futures).
 */
export function symbolFromFileName(file: string): string {
  const stem = basename(file).replace(BAR_FILE, '');
  const head = stem.split('-')[0]!;
  const parts = head.toUpperCase().split('_').filter(Boolean);
  // freqtrade futures pairs are BASE_QUOTE_SETTLE: drop the settle currency when it repeats the quote
  if (parts.length === 3 && parts[1] === parts[2]) parts.pop();
  const symbol = parts.join('');
  if (!/^[A-Z0-9]{2,30}$/.test(symbol)) {
    throw new SapphireError('DATA_FILE_INVALID', `${file}: cannot tell the symbol from the file name`);
  }
  return symbol;
}

async function parseFile(path: string): Promise<ParsedBars> {
  if (/\.parquet$/i.test(path)) return readBarsWithDuckDB(path, 'parquet');
  if (/\.csv$/i.test(path) && statSync(path).size > DUCKDB_CSV_THRESHOLD_BYTES) {
    return readBarsWithDuckDB(path, 'csv');
  }
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new SapphireError('DATA_NOT_FOUND', `${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  let text: string;
  if (/\.gz$/i.test(path)) {
    try {
      text = gunzipSync(raw).toString('utf8');
    } catch (error) {
      throw new SapphireError('DATA_FILE_INVALID', `${path}: not a valid gzip file (${(error as Error).message})`);
    }
  } else {
    text = raw.toString('utf8');
  }
  return parseBarCsv(text, path);
}

/** Loads one bar file (CSV, .csv.gz or Parquet) as columns. */
export async function loadBarFile(path: string, symbol = symbolFromFileName(path)): Promise<BarColumns> {
  return (await loadBarFileLocated(path, symbol)).cols;
}

async function loadBarFileLocated(
  path: string,
  symbol: string,
): Promise<{ cols: BarColumns; where: (row: number) => string }> {
  const { columns, where } = await parseFile(path);
  const cols = { symbol, intervalMs: inferInterval(columns.openTime, path), ...columns };
  return { cols, where: where ?? ((row) => `${path}: row ${row + 1}`) };
}

/** Every gap of a symbol's files once joined, named by the file and line of the bar after it. */
function gapsOfParts(parts: readonly { file: string; cols: BarColumns; where: (row: number) => string }[]): DataGap[] {
  const out: DataGap[] = [];
  for (let p = 0; p < parts.length; p++) {
    const { cols, where } = parts[p]!;
    const prev = parts[p - 1];
    if (prev !== undefined) {
      // the join between two files: the step from the last bar of one to the first of the next
      const joined = {
        ...cols,
        openTime: Float64Array.of(prev.cols.openTime[prev.cols.length - 1]!, cols.openTime[0]!),
        length: 2,
      };
      out.push(...findGaps(joined, () => where(0)));
    }
    out.push(...findGaps(cols, where));
  }
  return out;
}

/** Joins consecutive files of one symbol (e.g. monthly Binance dumps); overlaps are an error. */
function concatSeries(parts: { file: string; cols: BarColumns }[]): BarColumns {
  parts.sort((a, b) => a.cols.openTime[0]! - b.cols.openTime[0]!);
  const first = parts[0]!.cols;
  if (parts.length === 1) return first;
  let length = 0;
  for (let i = 0; i < parts.length; i++) {
    const { file, cols } = parts[i]!;
    if (cols.intervalMs !== first.intervalMs) {
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `${file}: ${cols.intervalMs / 60_000}m bars, but ${parts[0]!.file} has ${first.intervalMs / 60_000}m bars`,
      );
    }
    const prev = parts[i - 1];
    if (prev && cols.openTime[0]! <= prev.cols.openTime[prev.cols.length - 1]!) {
      throw new SapphireError('DATA_FILE_INVALID', `${file}: overlaps ${prev.file} (same symbol, same times)`);
    }
    length += cols.length;
  }
  // order flow survives the join only when every file has it: a partly known series is not known
  const flow: FlowColumns | undefined = parts.every((p) => p.cols.flow !== undefined)
    ? {
        quoteVolume: new Float64Array(length),
        trades: new Float64Array(length),
        takerBuyVolume: new Float64Array(length),
        takerBuyQuoteVolume: new Float64Array(length),
      }
    : undefined;
  const out = {
    symbol: first.symbol,
    intervalMs: first.intervalMs,
    openTime: new Float64Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    ...(flow === undefined ? {} : { flow }),
    length,
  };
  let at = 0;
  for (const { cols } of parts) {
    for (const key of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const) out[key].set(cols[key], at);
    if (flow !== undefined) for (const key of FLOW_KEYS) flow[key].set(cols.flow![key], at);
    at += cols.length;
  }
  return out;
}

export interface DatasetRequest {
  /** a folder of bar files, or one file */
  dir: string;
  /** only these symbols (each must be present); default: every symbol found */
  symbols?: readonly string[];
  /** openTime window [from, to) */
  from?: number;
  to?: number;
  /** missing bars beyond which a gap inside the window is refused (MAX_GAP_BARS; 0 = one day of bars) */
  maxGapBars?: number;
  /** load across such holes anyway (they are still reported) */
  allowGaps?: boolean;
}

export interface LoadedDataset {
  series: BarColumns[];
  /** every gap inside the loaded window, with the file and line after it */
  gaps: DataGap[];
}

/**
 * Loads every bar file of a folder, one series per symbol, in `symbols` order (else by name).
 * All series must share one interval. Files of one symbol are joined in time order.
 */
export async function loadDataset(request: DatasetRequest): Promise<BarColumns[]> {
  return (await loadDatasetReport(request)).series;
}

/**
 * loadDataset, with the gaps found inside the window. A hole (more than `maxGapBars` missing) is
 * an error naming file, line and times unless `allowGaps`.
 */
export async function loadDatasetReport(request: DatasetRequest): Promise<LoadedDataset> {
  const { dir } = request;
  if (!existsSync(dir)) {
    throw new SapphireError('DATA_NOT_FOUND', `${dir}: no such folder (set DATA_DIR or pass --data)`);
  }
  const files = statSync(dir).isDirectory()
    ? readdirSync(dir)
        .filter((f) => BAR_FILE.test(f))
        .sort()
        .map((f) => join(dir, f))
    : [dir];
  if (files.length === 0) throw new SapphireError('DATA_NOT_FOUND', `${dir}: no .csv, .csv.gz or .parquet files`);
  const bySymbol = new Map<string, string[]>();
  for (const f of files) {
    const s = symbolFromFileName(f);
    bySymbol.set(s, [...(bySymbol.get(s) ?? []), f]);
  }
  const wanted = request.symbols ?? [...bySymbol.keys()];
  const missing = wanted.filter((s) => !bySymbol.has(s));
  if (missing.length > 0) {
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `${dir}: no data for ${missing.join(', ')} (found: ${[...bySymbol.keys()].join(', ')})`,
    );
  }
  const series: BarColumns[] = [];
  const gaps: DataGap[] = [];
  for (const symbol of wanted) {
    const parts = [];
    for (const file of bySymbol.get(symbol)!) parts.push({ file, ...(await loadBarFileLocated(file, symbol)) });
    const joined = concatSeries(parts);
    const window = sliceColumns(joined, request.from, request.to);
    series.push(window);
    if (window.length > 0) {
      const first = window.openTime[0]!;
      const last = window.openTime[window.length - 1]!;
      gaps.push(...gapsOfParts(parts).filter((g) => g.lastBefore >= first && g.firstAfter <= last));
    }
  }
  const interval = series[0]!.intervalMs;
  const odd = series.find((c) => c.intervalMs !== interval);
  if (odd) {
    throw new SapphireError(
      'DATA_FILE_INVALID',
      `${dir}: ${odd.symbol} has ${odd.intervalMs / 60_000}m bars but ${series[0]!.symbol} has ${interval / 60_000}m bars`,
    );
  }
  checkGaps(gaps, interval, request.maxGapBars ?? 0, request.allowGaps === true);
  return { series, gaps };
}

/** A [from, to) window of a series by openTime, as views (no copy). */
export function sliceColumns(c: BarColumns, from?: number, to?: number): BarColumns {
  if (from === undefined && to === undefined) return c;
  const lo = from === undefined ? 0 : lowerBound(c.openTime, from);
  const hi = to === undefined ? c.length : lowerBound(c.openTime, to);
  return sliceRows(c, lo, hi);
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Visits the bars of several series in time order (ties in series order) and stops when `visit`
 * returns false. One pass, no sorting: a k-way merge over column cursors.
 */
export function forEachMergedBar(series: readonly BarColumns[], visit: (bar: Bar) => boolean | void): void {
  const k = series.length;
  const cursor = new Int32Array(k);
  for (;;) {
    let best = -1;
    let bestTime = Infinity;
    for (let s = 0; s < k; s++) {
      const c = series[s]!;
      const i = cursor[s]!;
      if (i < c.length && c.openTime[i]! < bestTime) {
        bestTime = c.openTime[i]!;
        best = s;
      }
    }
    if (best === -1) return;
    const c = series[best]!;
    const i = cursor[best]!++;
    const flow = flowAt(c.flow, i);
    const bar = makeBar(c.symbol, c.openTime[i]!, c.intervalMs, c.open[i]!, c.high[i]!, c.low[i]!, c.close[i]!, c.volume[i]!, flow);
    if (visit(bar) === false) return;
  }
}

/** The market of a backtest: every bar of every series, merged in time order, synchronously. */
export function mergeBars(series: readonly BarColumns[]): Observable<Bar> {
  return new Observable<Bar>((subscriber) => {
    forEachMergedBar(series, (bar) => {
      subscriber.next(bar);
      return !subscriber.closed;
    });
    subscriber.complete();
  });
}

/** Funding-rate history: CSV `symbol,fundingTime,fundingRate` (epoch ms), header required. */
export function loadFundingCsv(path: string): FundingRate[] {
  return loadFundingFile(path);
}
