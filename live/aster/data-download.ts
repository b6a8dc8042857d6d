import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SapphireError } from '../../pipelines/errors.ts';
import type { AsterRestClient } from './rest-client.ts';

/**
 * Historical klines and funding rates from Aster into the CSV layout the backtester reads:
 * `<DIR>/<SYMBOL>.csv` (freqtrade: `date,open,high,low,close,volume`, ISO open time with Z) and
 * `<DIR>/funding.csv` (`symbol,fundingTime,fundingRate`).
 *
 * - paginated (1500 klines / 1000 funding rows a page), one request at a time through the client,
 *   which tracks the exchange's request weight and waits before the limit;
 * - only closed bars (close time before the exchange's clock) inside [from, to);
 * - resumable: an existing file is continued after its last row; a torn last line (an interrupted
 *   write) is cut off first;
 * - each page is appended with one write of whole lines, then flushed; a new file appears only with
 *   its first page (header included), so an error leaves every file valid and ready to resume.
 */

/** Aster kline intervals (1M is not supported here: months have no fixed length). */
export const KLINE_INTERVALS: Readonly<Record<string, number>> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
  '3d': 259_200_000,
  '1w': 604_800_000,
};

export const BAR_HEADER = 'date,open,high,low,close,volume';
export const FUNDING_HEADER = 'symbol,fundingTime,fundingRate';
const KLINE_PAGE = 1500;
const FUNDING_PAGE = 1000;

export interface DownloadRequest {
  readonly client: AsterRestClient;
  readonly symbols: readonly string[];
  readonly interval: string;
  /** first open time (ms, inclusive) */
  readonly from: number;
  /** end (ms, exclusive) */
  readonly to: number;
  readonly outDir: string;
  readonly funding?: boolean;
  /** klines per page (default and maximum 1500) */
  readonly pageLimit?: number;
  readonly onProgress?: (p: { symbol: string; written: number }) => void;
}

export interface SymbolDownload {
  readonly symbol: string;
  readonly path: string;
  /** bars already in the file before this run (after repair) */
  readonly kept: number;
  readonly added: number;
  /** a torn last line was cut off */
  readonly repaired: boolean;
}

export interface DownloadResult {
  readonly bars: SymbolDownload[];
  readonly funding?: { readonly path: string; readonly added: number; readonly repaired: boolean };
  readonly requests: number;
}

/** 2025-01-28T00:05:00Z (no milliseconds, as freqtrade writes it) */
export function isoMinute(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Appends whole lines in one write, then flushes them to disk. */
function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  const buf = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  const fd = openSync(path, 'a');
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface Existing {
  /** complete data lines (header excluded) */
  rows: string[];
  hasHeader: boolean;
  repaired: boolean;
}

/**
 * Reads a file we may have written before, cutting off a torn last line (no newline at the end)
 * and, when the last complete line does not parse, that line too.
 */
function readExisting(path: string, header: string, valid: (line: string) => boolean): Existing | null {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  let keep = text.lastIndexOf('\n') + 1; // bytes kept = up to the last newline
  let repaired = keep !== text.length;
  let lines = text.slice(0, keep).split('\n');
  lines.pop(); // the empty string after the final newline
  const hasHeader = lines.length > 0 && lines[0]!.trim() === header;
  if (lines.length > 0 && !hasHeader && !valid(lines[0]!))
    throw new SapphireError('DATA_FILE_INVALID', `${path}: not a file this download wrote (first line: ${lines[0]!})`);
  let rows = hasHeader ? lines.slice(1) : lines;
  // an interrupted write may also leave a complete-looking but cut line: drop invalid tail lines
  while (rows.length > 0 && !valid(rows[rows.length - 1]!)) {
    rows = rows.slice(0, -1);
    repaired = true;
  }
  if (repaired) {
    lines = hasHeader ? [header, ...rows] : rows;
    keep = Buffer.byteLength(lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
    truncateSync(path, keep);
  }
  return { rows, hasHeader, repaired };
}

const BAR_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+$/;
function validBarLine(line: string): boolean {
  if (!BAR_LINE.test(line)) return false;
  return line
    .split(',')
    .slice(1)
    .every((v) => v !== '' && Number.isFinite(Number(v)));
}
const FUNDING_LINE = /^[A-Z0-9]+,\d+,-?\d+(\.\d+)?(e-?\d+)?$/;
function validFundingLine(line: string): boolean {
  return FUNDING_LINE.test(line) && Number.isFinite(Number(line.split(',')[2]));
}

/** What every symbol's kline download shares: the checked request and the exchange's clock. */
interface BarWindow {
  readonly req: DownloadRequest;
  readonly intervalMs: number;
  /** klines per page */
  readonly limit: number;
  /** end (ms, exclusive), clipped to the last closed bar */
  readonly end: number;
  readonly serverNow: number;
}

/** One symbol's klines, continued after what its file already holds. */
async function downloadSymbolBars(w: BarWindow, symbol: string): Promise<SymbolDownload> {
  const { req, intervalMs, limit, end, serverNow } = w;
  const path = join(req.outDir, `${symbol}.csv`);
  const existing = readExisting(path, BAR_HEADER, validBarLine);
  let cursor = req.from;
  let lastWritten = -Infinity;
  const lastRow = existing?.rows[existing.rows.length - 1];
  if (lastRow !== undefined) {
    lastWritten = Date.parse(lastRow.split(',')[0]!);
    cursor = Math.max(cursor, lastWritten + intervalMs);
  }
  let needHeader = existing === null || !existing.hasHeader;
  if (existing !== null && !existing.hasHeader && existing.rows.length > 0)
    throw new SapphireError('DATA_FILE_INVALID', `${path}: has rows but no ${BAR_HEADER} header`);
  let added = 0;
  const maxPages = Math.ceil((end - cursor) / intervalMs / limit) + 2;
  for (let page = 0; page < maxPages && cursor < end; page++) {
    const rows = await req.client.klines({
      symbol,
      interval: req.interval,
      startTime: cursor,
      endTime: end - 1,
      limit,
    });
    const lines: string[] = [];
    let next = cursor;
    for (const k of rows) {
      if (k.openTime < cursor || k.openTime <= lastWritten || k.openTime >= end) continue;
      if (k.closeTime >= serverNow) continue; // still open
      if (k.openTime % intervalMs !== 0)
        throw new SapphireError(
          'EXCHANGE_PAYLOAD',
          `${symbol}: kline open time ${k.openTime} is off the ${req.interval} grid`,
        );
      lines.push(`${isoMinute(k.openTime)},${k.open},${k.high},${k.low},${k.close},${k.volume}`);
      lastWritten = k.openTime;
      next = k.openTime + intervalMs;
    }
    if (lines.length > 0) {
      appendLines(path, needHeader ? [BAR_HEADER, ...lines] : lines);
      needHeader = false;
      added += lines.length;
      req.onProgress?.({ symbol, written: (existing?.rows.length ?? 0) + added });
    }
    // a short page or no progress: the exchange has nothing more in the window
    if (rows.length < limit || next === cursor) break;
    cursor = next;
  }
  return { symbol, path, kept: existing?.rows.length ?? 0, added, repaired: existing?.repaired ?? false };
}

/** Funding rates of every symbol into the one shared funding.csv, each continued after its last row. */
async function downloadFunding(
  req: DownloadRequest,
  serverNow: number,
): Promise<NonNullable<DownloadResult['funding']>> {
  const path = join(req.outDir, 'funding.csv');
  const existing = readExisting(path, FUNDING_HEADER, validFundingLine);
  if (existing !== null && !existing.hasHeader && existing.rows.length > 0)
    throw new SapphireError('DATA_FILE_INVALID', `${path}: has rows but no ${FUNDING_HEADER} header`);
  const last = new Map<string, number>();
  for (const row of existing?.rows ?? []) {
    const [s, t] = row.split(',');
    last.set(s!, Math.max(last.get(s!) ?? -Infinity, Number(t)));
  }
  let needHeader = existing === null || !existing.hasHeader;
  let added = 0;
  const fEnd = Math.min(req.to, serverNow + 1);
  for (const symbol of req.symbols) {
    let cursor = Math.max(req.from, (last.get(symbol) ?? -Infinity) + 1);
    // funding every 8 h at least; pages bounded by the window's length (1 h funding at worst)
    const maxPages = Math.ceil((fEnd - cursor) / 3_600_000 / FUNDING_PAGE) + 2;
    for (let page = 0; page < maxPages && cursor < fEnd; page++) {
      const rows = await req.client.fundingRate({
        symbol,
        startTime: cursor,
        endTime: fEnd - 1,
        limit: FUNDING_PAGE,
      });
      const lines: string[] = [];
      let next = cursor;
      for (const r of [...rows].sort((a, b) => a.fundingTime - b.fundingTime)) {
        if (r.symbol !== symbol || r.fundingTime < cursor || r.fundingTime >= fEnd) continue;
        lines.push(`${symbol},${r.fundingTime},${r.fundingRate}`);
        next = r.fundingTime + 1;
      }
      if (lines.length > 0) {
        appendLines(path, needHeader ? [FUNDING_HEADER, ...lines] : lines);
        needHeader = false;
        added += lines.length;
      }
      if (rows.length < FUNDING_PAGE || next === cursor) break;
      cursor = next;
    }
  }
  // an empty window still leaves a readable (header-only) file
  if (needHeader) appendLines(path, [FUNDING_HEADER]);
  return { path, added, repaired: existing?.repaired ?? false };
}

/** Downloads klines (and funding rates) for every symbol; see the module comment. */
export async function downloadData(req: DownloadRequest): Promise<DownloadResult> {
  const intervalMs = KLINE_INTERVALS[req.interval];
  if (intervalMs === undefined)
    throw new SapphireError(
      'CLI_USAGE',
      `interval ${JSON.stringify(req.interval)} is not one of ${Object.keys(KLINE_INTERVALS).join(', ')}`,
    );
  if (!(req.from < req.to)) throw new SapphireError('CLI_USAGE', 'from must be before to');
  const limit = Math.max(1, Math.min(req.pageLimit ?? KLINE_PAGE, KLINE_PAGE));
  const requestsBefore = req.client.counters.requests;
  mkdirSync(req.outDir, { recursive: true });

  // the exchange's clock decides which bars are closed
  const serverNow = await req.client.time();
  const end = Math.min(req.to, Math.floor(serverNow / intervalMs) * intervalMs + intervalMs);

  const barWindow: BarWindow = { req, intervalMs, limit, end, serverNow };
  const bars: SymbolDownload[] = [];
  // one symbol at a time: the client paces every request against one weight budget
  for (const symbol of req.symbols) bars.push(await downloadSymbolBars(barWindow, symbol));

  const funding = req.funding === true ? await downloadFunding(req, serverNow) : undefined;
  return { bars, ...(funding ? { funding } : {}), requests: req.client.counters.requests - requestsBefore };
}
