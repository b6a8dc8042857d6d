import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FundingRate } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';

/**
 * Funding-rate histories in the shapes they are published in:
 * - `/fapi/v1/fundingRate` JSON (Binance, Aster): `[{"symbol","fundingTime","fundingRate",…}]`,
 *   rates as strings or numbers;
 * - Binance's monthly dumps `SYMBOL-fundingRate-YYYY-MM.csv`: `calc_time,funding_interval_hours,
 *   last_funding_rate` (no symbol column: it comes from the file name);
 * - a plain CSV `symbol,fundingTime,fundingRate` (epoch ms).
 * A folder is read file by file (every .csv and .json). Every row is checked; the first bad one
 * stops the load naming file and line.
 */

const MAX_ABS_RATE = 0.05;

function bad(where: string, problem: string): SapphireError {
  return new SapphireError('DATA_FILE_INVALID', `${where}: ${problem}`);
}

function checkRow(
  where: string,
  symbol: string,
  time: unknown,
  rate: unknown,
  names: readonly [string, string] = ['fundingTime', 'fundingRate'],
): FundingRate {
  if (!/^[A-Z0-9]{2,30}$/.test(symbol)) throw bad(where, `symbol "${symbol}" is not a symbol`);
  const fundingTime = typeof time === 'number' ? time : Number(String(time).trim());
  if (!Number.isInteger(fundingTime) || fundingTime < 1e12 || fundingTime > 1e13) {
    throw bad(where, `${names[0]} "${String(time)}" is not epoch milliseconds`);
  }
  const value = typeof rate === 'number' ? rate : String(rate).trim() === '' ? Number.NaN : Number(rate);
  if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS_RATE) {
    throw bad(where, `${names[1]} "${String(rate)}" is not a rate within ±5 %`);
  }
  return { symbol, fundingTime, rate: value };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new SapphireError('DATA_NOT_FOUND', `${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** `/fapi/v1/fundingRate` reply (an array), or an object holding one under `data`/`rows`. */
export function parseFundingJson(text: string, path: string): FundingRate[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw bad(path, `not JSON (${(error as Error).message})`);
  }
  const rows = Array.isArray(json) ? json : ((json as { data?: unknown; rows?: unknown } | null)?.data ?? null);
  if (!Array.isArray(rows)) throw bad(path, 'expected a /fapi/v1/fundingRate array of {symbol, fundingTime, fundingRate}');
  return rows.map((raw: unknown, i) => {
    const r = (raw ?? {}) as { symbol?: unknown; fundingTime?: unknown; fundingRate?: unknown };
    return checkRow(`${path}: [${i}]`, String(r.symbol ?? ''), r.fundingTime, r.fundingRate);
  });
}

/** The CSV shapes: `symbol,fundingTime,fundingRate` or Binance's monthly dump (symbol from the name). */
export function parseFundingCsv(text: string, path: string): FundingRate[] {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').trim().toLowerCase().replaceAll(' ', '');
  const cells = header.split(',');
  let layout: 'plain' | 'dump';
  if (header === 'symbol,fundingtime,fundingrate') layout = 'plain';
  else if (cells[0] === 'calc_time' && cells.includes('last_funding_rate')) layout = 'dump';
  else {
    throw bad(
      `${path}:1`,
      'header must be symbol,fundingTime,fundingRate or calc_time,funding_interval_hours,last_funding_rate',
    );
  }
  const rateColumn = layout === 'dump' ? cells.indexOf('last_funding_rate') : 2;
  const fileSymbol = layout === 'dump' ? basename(path).split(/[-_.]/)[0]!.toUpperCase() : '';
  if (layout === 'dump' && !/^[A-Z0-9]{2,30}$/.test(fileSymbol)) {
    throw bad(path, 'a Binance funding dump must be named SYMBOL-fundingRate-YYYY-MM.csv (the symbol comes from the name)');
  }
  const out: FundingRate[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const f = line.split(',');
    const where = `${path}:${i + 1}`;
    if (f.length <= rateColumn) throw bad(where, `expected ${rateColumn + 1} fields, found ${f.length}`);
    out.push(
      layout === 'plain'
        ? checkRow(where, f[0]!.trim(), f[1], f[2])
        : checkRow(where, fileSymbol, f[0], f[rateColumn], ['calc_time', 'last_funding_rate']),
    );
  }
  return out;
}

/** One file (.json or .csv) or a folder of them; rows sorted by time then symbol, duplicates refused. */
export function loadFundingFile(path: string): FundingRate[] {
  if (!existsSync(path)) throw new SapphireError('DATA_NOT_FOUND', `${path}: no such funding file or folder`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /\.(csv|json)$/i.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new SapphireError('DATA_NOT_FOUND', `${path}: no .csv or .json funding files`);
  const out: FundingRate[] = [];
  for (const file of files) {
    const text = readText(file);
    out.push(...(/\.json$/i.test(file) ? parseFundingJson(text, file) : parseFundingCsv(text, file)));
  }
  out.sort((a, b) => a.fundingTime - b.fundingTime || a.symbol.localeCompare(b.symbol));
  for (let i = 1; i < out.length; i++) {
    const a = out[i - 1]!;
    const b = out[i]!;
    if (a.symbol === b.symbol && a.fundingTime === b.fundingTime) {
      throw bad(path, `two rates for ${b.symbol} at ${new Date(b.fundingTime).toISOString()}`);
    }
  }
  return out;
}
