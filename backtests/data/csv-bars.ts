import { FLOW_KEYS, type BarColumns, type FlowColumns } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';

/**
 * Text bar files: freqtrade CSV (`date,open,high,low,close,volume`, ISO open time) and Binance's
 * native kline dumps (`open_time,open,high,low,close,volume,close_time,…`, epoch ms, header
 * optional). A native file's order flow (quote_volume, count, taker_buy_volume,
 * taker_buy_quote_volume) is read when its first row has those columns; other files have none. The parser walks the text once, writes straight into typed columns and stops at
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
  flow: { -readonly [K in keyof FlowColumns]: Float64Array } | undefined;
  length: number;
}

function grow(c: Growable, capacity: number): void {
  for (const key of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const) {
    const next = new Float64Array(capacity);
    next.set(c[key].subarray(0, c.length));
    c[key] = next;
  }
  if (c.flow === undefined) return;
  for (const key of FLOW_KEYS) {
    const next = new Float64Array(capacity);
    next.set(c.flow[key].subarray(0, c.length));
    c.flow[key] = next;
  }
}

function emptyFlow(capacity: number): NonNullable<Growable['flow']> {
  return {
    quoteVolume: new Float64Array(capacity),
    trades: new Float64Array(capacity),
    takerBuyVolume: new Float64Array(capacity),
    takerBuyQuoteVolume: new Float64Array(capacity),
  };
}

function parseTime(field: string, format: BarFileFormat, file: string, line: number): number {
  if (format === 'binance') {
    if (!/^\d{10,16}$/.test(field)) throw dataError(file, line, `open_time "${field}" is not epoch milliseconds`);
    let t = Number(field);
    // Binance switched its spot dumps to microseconds in 2025: normalise to ms
    if (field.length >= 15) t = Math.floor(t / 1000);
    return t;
  }
  const fast = parseIsoUtc(field);
  if (fast >= 0) return fast;
  if (fast === IMPOSSIBLE) throw dataError(file, line, `date "${field}" is not an ISO-8601 time`);
  const t = Date.parse(field);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(field)) {
    throw dataError(file, line, `date "${field}" is not an ISO-8601 time`);
  }
  return t;
}

const DIGIT_0 = 48;
function digits(s: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` (or a space for T, or `+00:00` for Z) read digit by digit: the
 * common layout of freqtrade files, 10× cheaper than Date.parse. IMPOSSIBLE for that shape with
 * an impossible date or time; −1 for any other shape, which then goes through Date.parse.
 */
function parseIsoUtc(s: string): number {
  const n = s.length;
  if (n !== 20 && n !== 25) return -1;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return -1;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 32) return -1;
  if (n === 20 ? s.charCodeAt(19) !== 90 : s.slice(19) !== '+00:00') return -1;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return -1;
  // the right shape but not a time (month 13, 25:00, Feb 30): Date.parse would roll it over
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return IMPOSSIBLE;
  }
  // Date.UTC rolls 2025-02-31 over to March: such a date is not a date
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1]!)) return IMPOSSIBLE;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

const IMPOSSIBLE = -2;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A plain decimal (`-123.4567`, at most 15 significant digits, no exponent) read digit by digit.
 * The result is exact: an integer below 2^53 divided by an exact power of ten is correctly rounded,
 * so it equals Number(field). NaN for anything else (which then goes through Number).
 */
export function parseDecimal(s: string): number {
  const n = s.length;
  let i = 0;
  let negative = false;
  if (n > 0 && s.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  let mantissa = 0;
  let digitsSeen = 0;
  let scale = -1;
  for (; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 46) {
      if (scale !== -1) return Number.NaN;
      scale = 0;
      continue;
    }
    const d = ch - DIGIT_0;
    if (d < 0 || d > 9) return Number.NaN;
    mantissa = mantissa * 10 + d;
    digitsSeen++;
    if (scale !== -1) scale++;
  }
  if (digitsSeen === 0 || digitsSeen > 15) return Number.NaN;
  const v = scale > 0 ? mantissa / POWERS_OF_TEN[scale]! : mantissa;
  return negative ? -v : v;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

function parseNumber(field: string, name: string, file: string, line: number): number {
  const fast = parseDecimal(field);
  if (fast === fast) return fast;
  const v = Number(field);
  // Number('') and Number('  ') are 0: an empty field is missing, not zero
  if (v === 0 && field.trim() === '') throw dataError(file, line, `missing ${name}`);
  if (!Number.isFinite(v)) throw dataError(file, line, `${name} "${field}" is not a number`);
  return v;
}

export interface ParsedBars {
  format: BarFileFormat;
  columns: Omit<BarColumns, 'symbol' | 'intervalMs'>;
  /** where row i came from (`file:line`), for messages about a row (gaps) */
  where?: RowLocator;
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
  // one tight loop with no allocation per row; the message is built only for the first bad row
  for (let i = 0; i < c.length; i++) {
    const t = c.openTime[i]!;
    const o = c.open[i]!;
    const h = c.high[i]!;
    const l = c.low[i]!;
    const cl = c.close[i]!;
    const v = c.volume[i]!;
    const finite = Number.isFinite(o) && Number.isFinite(h) && Number.isFinite(l) && Number.isFinite(cl);
    if (
      Number.isFinite(t) &&
      finite &&
      Number.isFinite(v) &&
      o > 0 &&
      h > 0 &&
      l > 0 &&
      cl > 0 &&
      l <= (o < cl ? o : cl) &&
      h >= (o > cl ? o : cl) &&
      v >= 0 &&
      t > prevTime
    ) {
      prevTime = t;
      continue;
    }
    throw new SapphireError('DATA_FILE_INVALID', `${where(i)}: ${rowProblem(t, o, h, l, cl, v, prevTime)}`);
  }
  if (c.flow !== undefined) validateFlow(c.flow, c.length, where);
}

/** Order flow is counts and volumes: finite and never negative. */
function validateFlow(flow: FlowColumns, length: number, where: RowLocator): void {
  for (const key of FLOW_KEYS) {
    const col = flow[key];
    for (let i = 0; i < length; i++) {
      const x = col[i]!;
      if (Number.isFinite(x) && x >= 0) continue;
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `${where(i)}: ${key} ${Number.isFinite(x) ? `${x} is negative` : 'is missing or not a number'}`,
      );
    }
  }
}

function rowProblem(t: number, o: number, h: number, l: number, cl: number, v: number, prevTime: number): string {
  if (!Number.isFinite(t)) return 'the time is missing or not a number';
  const named: [string, number][] = [
    ['open', o],
    ['high', h],
    ['low', l],
    ['close', cl],
    ['volume', v],
  ];
  for (const [name, x] of named) if (!Number.isFinite(x)) return `${name} is missing or not a number`;
  if (o <= 0 || h <= 0 || l <= 0 || cl <= 0) return 'prices must be positive';
  if (l > Math.min(o, cl) || h < Math.max(o, cl)) {
    return `inconsistent bar: low ${l} / high ${h} do not bracket open ${o} and close ${cl}`;
  }
  if (v < 0) return `negative volume ${v}`;
  return t === prevTime
    ? `duplicate bar at ${new Date(t).toISOString()}`
    : `time goes backwards: ${new Date(t).toISOString()} after ${new Date(prevTime).toISOString()}`;
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
  const c = emptyColumns(1024);
  // decided on the first data row: a native row with all 11 leading columns carries order flow
  let flowDecided = false;
  let lines = new Uint32Array(1024);
  if (!hasHeader) {
    // the first line was data: read it again below
    pos = 0;
    lineNo = 0;
  }
  // one pass over the text: fields are cut with indexOf, no line string and no array per row
  const fieldEnd = (from: number, end: number): number => {
    const comma = text.indexOf(',', from);
    return comma === -1 || comma > end ? end : comma;
  };
  while (pos < n) {
    const newline = text.indexOf('\n', pos);
    const stop = newline === -1 ? n : newline;
    const start = pos;
    let end = stop;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    pos = stop + 1;
    lineNo++;
    if (end === start || text.slice(start, end).trim() === '') continue;
    const e0 = fieldEnd(start, end);
    const e1 = e0 < end ? fieldEnd(e0 + 1, end) : end;
    const e2 = e1 < end ? fieldEnd(e1 + 1, end) : end;
    const e3 = e2 < end ? fieldEnd(e2 + 1, end) : end;
    const e4 = e3 < end ? fieldEnd(e3 + 1, end) : end;
    if (e4 >= end) {
      const found = text.slice(start, end).split(',').length;
      throw dataError(file, lineNo, `expected at least 6 fields, found ${found}`);
    }
    const e5 = fieldEnd(e4 + 1, end);
    if (!flowDecided) {
      flowDecided = true;
      if (format === 'binance' && text.slice(start, end).split(',').length >= 11) c.flow = emptyFlow(c.openTime.length);
    }
    if (c.length === c.openTime.length) {
      grow(c, c.length * 2);
      const l2 = new Uint32Array(c.length * 2);
      l2.set(lines);
      lines = l2;
    }
    const i = c.length++;
    lines[i] = lineNo;
    c.openTime[i] = parseTime(text.slice(start, e0).trim(), format, file, lineNo);
    c.open[i] = parseNumber(text.slice(e0 + 1, e1), 'open', file, lineNo);
    c.high[i] = parseNumber(text.slice(e1 + 1, e2), 'high', file, lineNo);
    c.low[i] = parseNumber(text.slice(e2 + 1, e3), 'low', file, lineNo);
    c.close[i] = parseNumber(text.slice(e3 + 1, e4), 'close', file, lineNo);
    c.volume[i] = parseNumber(text.slice(e4 + 1, e5), 'volume', file, lineNo);
    if (c.flow !== undefined) readFlow(text, e5, end, c.flow, i, file, lineNo);
  }
  if (c.length === 0) throw dataError(file, lineNo, 'no bars after the header');
  const columns = trimmed(c);
  const where: RowLocator = (row) => `${file}:${lines[row]}`;
  validateColumns(columns, where);
  return { format, columns, where };
}

/** Columns with room for `size` rows, none used; order flow is decided on the first row. */
function emptyColumns(size: number): Growable {
  return {
    openTime: new Float64Array(size),
    open: new Float64Array(size),
    high: new Float64Array(size),
    low: new Float64Array(size),
    close: new Float64Array(size),
    volume: new Float64Array(size),
    flow: undefined,
    length: 0,
  };
}

/** The parsed rows as columns of exactly their length (views, no copy). */
function trimmed(c: Growable) {
  const k = c.length;
  const flow = c.flow;
  return {
    openTime: c.openTime.subarray(0, k),
    open: c.open.subarray(0, k),
    high: c.high.subarray(0, k),
    low: c.low.subarray(0, k),
    close: c.close.subarray(0, k),
    volume: c.volume.subarray(0, k),
    ...(flow === undefined
      ? {}
      : {
          flow: {
            quoteVolume: flow.quoteVolume.subarray(0, k),
            trades: flow.trades.subarray(0, k),
            takerBuyVolume: flow.takerBuyVolume.subarray(0, k),
            takerBuyQuoteVolume: flow.takerBuyQuoteVolume.subarray(0, k),
          },
        }),
    length: k,
  };
}

/** close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume after the volume field */
function readFlow(
  text: string,
  volumeEnd: number,
  end: number,
  flow: NonNullable<Growable['flow']>,
  i: number,
  file: string,
  lineNo: number,
): void {
  const fields: number[] = [];
  let from = volumeEnd;
  for (let f = 0; f < 5; f++) {
    if (from >= end) throw dataError(file, lineNo, 'expected the 11 columns of a Binance kline row (order flow missing)');
    const comma = text.indexOf(',', from + 1);
    const stop = comma === -1 || comma > end ? end : comma;
    fields.push(from + 1, stop);
    from = stop;
  }
  const cut = (f: number): string => text.slice(fields[2 * f]!, fields[2 * f + 1]!);
  flow.quoteVolume[i] = parseNumber(cut(1), 'quote_volume', file, lineNo);
  flow.trades[i] = parseNumber(cut(2), 'count', file, lineNo);
  flow.takerBuyVolume[i] = parseNumber(cut(3), 'taker_buy_volume', file, lineNo);
  flow.takerBuyQuoteVolume[i] = parseNumber(cut(4), 'taker_buy_quote_volume', file, lineNo);
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
