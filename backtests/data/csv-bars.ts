import type { BarColumns } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';

/**
 * Text bar files: freqtrade CSV (`date,open,high,low,close,volume`, ISO open time) and Binance's
 * native kline dumps (`open_time,open,high,low,close,volume,close_time,…`, epoch ms, header
 * optional). The parser walks the text once, writes straight into typed columns and stops at
 * the first bad line with its file and line number — a malformed file never becomes a NaN.
 */
export type BarFileFormat = 'freqtrade' | 'binance';

const FREQTRADE_HEADER = ['date', 'open', 'high', 'low', 'close', 'volume'];
const BINANCE_HEADER_FIRST = 'open_time';

export function dataError(file: string, line: number, problem: string): SapphireError {
  return new SapphireError('DATA_FILE_INVALID', `${file}:${line}: ${problem}`);
}

interface Growable {
  openTime: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  length: number;
}

function grow(c: Growable, capacity: number): void {
  for (const key of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const) {
    const next = new Float64Array(capacity);
    next.set(c[key].subarray(0, c.length));
    c[key] = next;
  }
}

function parseTime(field: string, format: BarFileFormat, file: string, line: number): number {
  if (format === 'binance') {
    if (!/^\d{10,16}$/.test(field)) throw dataError(file, line, `open_time "${field}" is not epoch milliseconds`);
    let t = Number(field);
    // Binance switched its spot dumps to microseconds in 2025: normalise to ms
    if (field.length >= 15) t = Math.floor(t / 1000);
    return t;
  }
  const t = Date.parse(field);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(field)) {
    throw dataError(file, line, `date "${field}" is not an ISO-8601 time`);
  }
  return t;
}

function parseNumber(field: string | undefined, name: string, file: string, line: number): number {
  if (field === undefined || field === '') throw dataError(file, line, `missing ${name}`);
  const v = Number(field);
  if (!Number.isFinite(v)) throw dataError(file, line, `${name} "${field}" is not a number`);
  return v;
}

export interface ParsedBars {
  format: BarFileFormat;
  columns: Omit<BarColumns, 'symbol' | 'intervalMs'>;
}

/** Detects the format from the first non-empty line. */
export function detectFormat(firstLine: string, file: string): { format: BarFileFormat; hasHeader: boolean } {
  const cells = firstLine.split(',').map((s) => s.trim().toLowerCase());
  if (cells[0] === 'date') {
    for (let i = 0; i < FREQTRADE_HEADER.length; i++) {
      if (cells[i] !== FREQTRADE_HEADER[i]) {
        throw dataError(file, 1, `header "${firstLine}" is not ${FREQTRADE_HEADER.join(',')}`);
      }
    }
    return { format: 'freqtrade', hasHeader: true };
  }
  if (cells[0] === BINANCE_HEADER_FIRST) return { format: 'binance', hasHeader: true };
  if (/^\d{10,16}$/.test(cells[0] ?? '')) return { format: 'binance', hasHeader: false };
  if (/^\d{4}-\d{2}-\d{2}/.test(cells[0] ?? '')) return { format: 'freqtrade', hasHeader: false };
  throw dataError(file, 1, `cannot tell the format from "${firstLine.slice(0, 80)}" (expected a freqtrade or Binance kline CSV)`);
}

/** Where each row came from, for error messages: `file:line` for text, `file: row N` for Parquet. */
export type RowLocator = (row: number) => string;

/**
 * Checks every row of a parsed series: finite numbers, positive prices, low ≤ open/close ≤ high,
 * volume ≥ 0, strictly increasing open times. Gaps stay gaps; zero volume is a real bar.
 */
export function validateColumns(c: Omit<BarColumns, 'symbol' | 'intervalMs'>, where: RowLocator): void {
  let prevTime = -Infinity;
  for (let i = 0; i < c.length; i++) {
    const t = c.openTime[i]!;
    const o = c.open[i]!;
    const h = c.high[i]!;
    const l = c.low[i]!;
    const cl = c.close[i]!;
    const v = c.volume[i]!;
    const fail = (problem: string) => new SapphireError('DATA_FILE_INVALID', `${where(i)}: ${problem}`);
    if (!Number.isFinite(t)) throw fail('the time is missing or not a number');
    for (const [name, x] of [
      ['open', o],
      ['high', h],
      ['low', l],
      ['close', cl],
      ['volume', v],
    ] as const) {
      if (!Number.isFinite(x)) throw fail(`${name} is missing or not a number`);
    }
    if (o <= 0 || h <= 0 || l <= 0 || cl <= 0) throw fail('prices must be positive');
    if (l > Math.min(o, cl) || h < Math.max(o, cl)) {
      throw fail(`inconsistent bar: low ${l} / high ${h} do not bracket open ${o} and close ${cl}`);
    }
    if (v < 0) throw fail(`negative volume ${v}`);
    if (t <= prevTime) {
      throw fail(
        t === prevTime
          ? `duplicate bar at ${new Date(t).toISOString()}`
          : `time goes backwards: ${new Date(t).toISOString()} after ${new Date(prevTime).toISOString()}`,
      );
    }
    prevTime = t;
  }
}

/** Parses a whole text bar file into columns, then validates every row (see validateColumns). */
export function parseBarCsv(text: string, file: string): ParsedBars {
  let pos = 0;
  let lineNo = 0;
  const n = text.length;
  const nextLine = (): string | null => {
    while (pos < n) {
      const end = text.indexOf('\n', pos);
      const stop = end === -1 ? n : end;
      let line = text.slice(pos, stop);
      pos = stop + 1;
      lineNo++;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() !== '') return line;
    }
    return null;
  };
  const first = nextLine();
  if (first === null) throw dataError(file, 1, 'the file is empty');
  const { format, hasHeader } = detectFormat(first, file);
  const c: Growable = {
    openTime: new Float64Array(1024),
    open: new Float64Array(1024),
    high: new Float64Array(1024),
    low: new Float64Array(1024),
    close: new Float64Array(1024),
    volume: new Float64Array(1024),
    length: 0,
  };
  let lines = new Uint32Array(1024);
  let line: string | null = hasHeader ? nextLine() : first;
  while (line !== null) {
    const f = line.split(',');
    if (f.length < 6) throw dataError(file, lineNo, `expected at least 6 fields, found ${f.length}`);
    if (c.length === c.openTime.length) {
      grow(c, c.length * 2);
      const l2 = new Uint32Array(c.length * 2);
      l2.set(lines);
      lines = l2;
    }
    const i = c.length++;
    lines[i] = lineNo;
    c.openTime[i] = parseTime(f[0]!.trim(), format, file, lineNo);
    c.open[i] = parseNumber(f[1], 'open', file, lineNo);
    c.high[i] = parseNumber(f[2], 'high', file, lineNo);
    c.low[i] = parseNumber(f[3], 'low', file, lineNo);
    c.close[i] = parseNumber(f[4], 'close', file, lineNo);
    c.volume[i] = parseNumber(f[5], 'volume', file, lineNo);
    line = nextLine();
  }
  if (c.length === 0) throw dataError(file, lineNo, 'no bars after the header');
  const k = c.length;
  const columns = {
    openTime: c.openTime.subarray(0, k),
    open: c.open.subarray(0, k),
    high: c.high.subarray(0, k),
    low: c.low.subarray(0, k),
    close: c.close.subarray(0, k),
    volume: c.volume.subarray(0, k),
    length: k,
  };
  validateColumns(columns, (row) => `${file}:${lines[row]}`);
  return { format, columns };
}

/**
 * The bar interval of a series: the smallest step between consecutive bars. Every step must be a
 * whole multiple of it (a gap), otherwise the file mixes intervals.
 */
export function inferInterval(openTime: Float64Array, file: string): number {
  if (openTime.length < 2) throw new SapphireError('DATA_FILE_INVALID', `${file}: need at least two bars to tell the interval`);
  let step = Infinity;
  for (let i = 1; i < openTime.length; i++) step = Math.min(step, openTime[i]! - openTime[i - 1]!);
  for (let i = 1; i < openTime.length; i++) {
    const d = openTime[i]! - openTime[i - 1]!;
    if (d % step !== 0) {
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `${file}: bar ${i + 1} (${new Date(openTime[i]!).toISOString()}) is ${d / 1000}s after the previous one, not a multiple of the ${step / 1000}s interval`,
      );
    }
  }
  return step;
}
