import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadBarFile, loadDataset, loadFundingCsv, mergeBars, symbolFromFileName } from '../../backtests/data/index.ts';
import { readBarsWithDuckDB } from '../../backtests/data/duckdb-bars.ts';
import { parseDecimal } from '../../backtests/data/csv-bars.ts';
import fc from 'fast-check';
import type { BarColumns } from '../../pipelines/model/index.ts';

const FIXTURE = new URL('../fixtures/core/BTCUSDT-5m-2025-01-28.csv', import.meta.url).pathname;
const ETH_FIXTURE = new URL('../fixtures/core/ETHUSDT-5m-2025-01-28.csv', import.meta.url).pathname;
const SAMPLE = new URL('../../data/sample/perp-5m', import.meta.url).pathname;
const fixtureText = readFileSync(FIXTURE, 'utf8');
const fixtureRows = fixtureText.trim().split('\n').slice(1);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'sapphire-data-'));
}

/** The same real rows in Binance's native dump layout (epoch ms, close_time = open + 5m − 1). */
function asBinanceNative(rows: string[], header: boolean): string {
  const lines = rows.map((r) => {
    const [date, o, h, l, c, v] = r.split(',');
    const t = Date.parse(date!);
    return [t, o, h, l, c, v, t + 299_999, '0', '0', '0', '0', '0'].join(',');
  });
  const head =
    'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
  return `${header ? `${head}\n` : ''}${lines.join('\n')}\n`;
}

function expectSameBars(a: BarColumns, b: BarColumns): void {
  expect(a.length).toBe(b.length);
  expect(a.intervalMs).toBe(b.intervalMs);
  for (const key of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const) {
    expect(Array.from(a[key])).toEqual(Array.from(b[key]));
  }
}

describe('bar file loaders', () => {
  it('reads freqtrade CSV with every row, the interval, and the real zero-volume maintenance bars', async () => {
    const c = await loadBarFile(FIXTURE);
    expect(c.symbol).toBe('BTCUSDT');
    expect(c.length).toBe(fixtureRows.length);
    expect(c.intervalMs).toBe(300_000);
    const [date, o, h, l, cl, v] = fixtureRows[10]!.split(',');
    expect([c.openTime[10], c.open[10], c.high[10], c.low[10], c.close[10], c.volume[10]]).toEqual(
      [Date.parse(date!), o, h, l, cl, v].map(Number),
    );
    const maintenance = Date.parse('2025-01-29T01:25:00Z');
    const i = Array.from(c.openTime).indexOf(maintenance);
    expect(i).toBeGreaterThan(0);
    expect(c.volume[i]).toBe(0);
  });

  it('reads Binance native dumps with and without a header, and .csv.gz, as the same bars', async () => {
    const dir = tmp();
    const reference = await loadBarFile(FIXTURE);
    writeFileSync(join(dir, 'BTCUSDT-5m-2025-01.csv'), asBinanceNative(fixtureRows, true));
    writeFileSync(join(dir, 'BTCUSDT-5m-noheader.csv'), asBinanceNative(fixtureRows, false));
    writeFileSync(join(dir, 'BTCUSDT.csv.gz'), gzipSync(fixtureText));
    expectSameBars(await loadBarFile(join(dir, 'BTCUSDT-5m-2025-01.csv')), reference);
    expectSameBars(await loadBarFile(join(dir, 'BTCUSDT-5m-noheader.csv')), reference);
    expectSameBars(await loadBarFile(join(dir, 'BTCUSDT.csv.gz')), reference);
  });

  it('reads Parquet and large CSV through DuckDB with the same result as the text parser', async () => {
    const dir = tmp();
    const parquet = join(dir, 'BTCUSDT.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(`COPY (SELECT * FROM read_csv('${FIXTURE}', header = true)) TO '${parquet}' (FORMAT parquet)`);
    conn.closeSync();
    const reference = await loadBarFile(FIXTURE);
    expectSameBars(await loadBarFile(parquet), reference);
    const viaDuck = await readBarsWithDuckDB(FIXTURE, 'csv');
    expectSameBars({ ...viaDuck.columns, symbol: 'BTCUSDT', intervalMs: 300_000 }, reference);
  });

  it('keeps a gap as a gap (no filled bars) and still infers the interval', async () => {
    const dir = tmp();
    const rows = [...fixtureRows.slice(0, 100), ...fixtureRows.slice(103)];
    writeFileSync(join(dir, 'BTCUSDT.csv'), `date,open,high,low,close,volume\n${rows.join('\n')}\n`);
    const c = await loadBarFile(join(dir, 'BTCUSDT.csv'));
    expect(c.length).toBe(fixtureRows.length - 3);
    expect(c.openTime[100]! - c.openTime[99]!).toBe(4 * 300_000);
    expect(c.intervalMs).toBe(300_000);
  });

  it.each([
    [
      'a bad number',
      (r: string[]) => r.with(4, r[4]!.replace(/,[^,]+$/, ',abc')),
      'line 6',
      'volume "abc" is not a number',
    ],
    ['an empty field', (r: string[]) => r.with(2, r[2]!.replace(/^([^,]+),[^,]+/, '$1,')), 'line 4', 'missing open'],
    ['high below low', (r: string[]) => r.with(7, swapHighLow(r[7]!)), 'line 9', 'inconsistent bar'],
    ['a duplicate time', (r: string[]) => r.with(9, r[8]!), 'line 11', 'duplicate bar'],
    [
      'time going backwards',
      (r: string[]) => [...r.slice(0, 20), r[5]!, ...r.slice(20)],
      'line 22',
      'time goes backwards',
    ],
    ['a short row', (r: string[]) => r.with(3, '2025-01-28T00:15:00Z,1,2'), 'line 5', 'expected at least 6 fields'],
    [
      'a bad date',
      (r: string[]) => r.with(1, r[1]!.replace(/^[^,]+/, '28/01/2025 00:05')),
      'line 3',
      'not an ISO-8601 time',
    ],
  ])('names file and line for %s', async (_what, corrupt, line, problem) => {
    const dir = tmp();
    const path = join(dir, 'BTCUSDT.csv');
    writeFileSync(path, `date,open,high,low,close,volume\n${corrupt(fixtureRows.slice(0, 40)).join('\n')}\n`);
    const error = await loadBarFile(path).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`${path}:${line.replace('line ', '')}:`);
    expect((error as Error).message).toContain(problem);
  });

  it('rejects an empty file, an unknown layout, and a broken gzip with the file named', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'AUSDT.csv'), '');
    writeFileSync(join(dir, 'BUSDT.csv'), 'when,price\nyesterday,3\n');
    writeFileSync(join(dir, 'CUSDT.csv.gz'), 'not gzip at all');
    await expect(loadBarFile(join(dir, 'AUSDT.csv'))).rejects.toThrow(`${join(dir, 'AUSDT.csv')}:1: the file is empty`);
    await expect(loadBarFile(join(dir, 'BUSDT.csv'))).rejects.toThrow('cannot tell the format');
    await expect(loadBarFile(join(dir, 'CUSDT.csv.gz'))).rejects.toThrow('not a valid gzip file');
  });

  it('names the row of a bad Parquet value', async () => {
    const dir = tmp();
    const parquet = join(dir, 'BTCUSDT.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(
      `COPY (SELECT date, open, CASE WHEN row_number() OVER () = 7 THEN low * 0.5 ELSE high END AS high, low, close, volume
             FROM read_csv('${FIXTURE}', header = true)) TO '${parquet}' (FORMAT parquet)`,
    );
    conn.closeSync();
    await expect(loadBarFile(parquet)).rejects.toThrow(`${parquet}: row 7: inconsistent bar`);
  });
});

function swapHighLow(row: string): string {
  const [d, o, h, l, c, v] = row.split(',');
  return [d, o, l, h, c, v].join(',');
}

describe('datasets', () => {
  it('loads the shipped real sample: three symbols, aligned, 5-minute bars', async () => {
    const series = await loadDataset({ dir: SAMPLE });
    expect(series.map((c) => c.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    for (const c of series) {
      expect(c.intervalMs).toBe(300_000);
      expect(c.length).toBe(34_764);
      expect(new Date(c.openTime[0]!).toISOString()).toBe('2025-10-22T00:00:00.000Z');
    }
  });

  it('narrows to requested symbols and a time window, and names what is missing', async () => {
    const from = Date.parse('2026-01-01T00:00:00Z');
    const to = Date.parse('2026-01-02T00:00:00Z');
    const [sol] = await loadDataset({ dir: SAMPLE, symbols: ['SOLUSDT'], from, to });
    expect(sol!.length).toBe(288);
    expect(sol!.openTime[0]).toBe(from);
    await expect(loadDataset({ dir: SAMPLE, symbols: ['DOGEUSDT'] })).rejects.toThrow(
      'no data for DOGEUSDT (found: BTCUSDT, ETHUSDT, SOLUSDT)',
    );
    await expect(loadDataset({ dir: join(SAMPLE, 'nope') })).rejects.toThrow('no such folder');
  });

  it('joins monthly files of one symbol in time order and refuses overlaps', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'BTCUSDT-5m-part2.csv'), asBinanceNative(fixtureRows.slice(600), true));
    writeFileSync(join(dir, 'BTCUSDT-5m-part1.csv'), asBinanceNative(fixtureRows.slice(0, 600), true));
    const [joined] = await loadDataset({ dir });
    expectSameBars(joined!, await loadBarFile(FIXTURE));
    writeFileSync(join(dir, 'BTCUSDT-5m-part3.csv'), asBinanceNative(fixtureRows.slice(500, 700), true));
    await expect(loadDataset({ dir })).rejects.toThrow('overlaps');
  });

  it('reads symbols from freqtrade and Binance file names', () => {
    expect(symbolFromFileName('/x/BTC_USDT_USDT-5m-futures.csv')).toBe('BTCUSDT');
    expect(symbolFromFileName('BTC_USDT-5m.parquet')).toBe('BTCUSDT');
    expect(symbolFromFileName('AVAXUSDT-1m-2023-02.csv')).toBe('AVAXUSDT');
    expect(symbolFromFileName('ETHUSDT.csv.gz')).toBe('ETHUSDT');
    expect(() => symbolFromFileName('?.csv')).toThrow('cannot tell the symbol');
  });
});

describe('mergeBars', () => {
  it('emits every bar of every series in time order, ties in series order, and stops when unsubscribed', async () => {
    const btc = await loadBarFile(FIXTURE);
    const eth = await loadBarFile(ETH_FIXTURE);
    const all = await firstValueFrom(mergeBars([eth, btc]).pipe(toArray()));
    expect(all.length).toBe(btc.length + eth.length);
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1]!;
      const b = all[i]!;
      expect(a.time < b.time || (a.time === b.time && a.symbol === 'ETHUSDT' && b.symbol === 'BTCUSDT')).toBe(true);
    }
    const firstFive = await firstValueFrom(mergeBars([btc, eth]).pipe(take(5), toArray()));
    expect(firstFive.map((b) => b.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'BTCUSDT', 'ETHUSDT', 'BTCUSDT']);
  });
});

describe('funding CSV', () => {
  it('reads symbol,fundingTime,fundingRate and names bad lines', () => {
    const dir = tmp();
    const good = join(dir, 'funding.csv');
    writeFileSync(
      good,
      'symbol,fundingTime,fundingRate\nETHUSDT,1738022400000,0.0001\nBTCUSDT,1738022400000,-0.00005\n',
    );
    expect(loadFundingCsv(good)).toEqual([
      { symbol: 'BTCUSDT', fundingTime: 1738022400000, rate: -0.00005 },
      { symbol: 'ETHUSDT', fundingTime: 1738022400000, rate: 0.0001 },
    ]);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'symbol,fundingTime,fundingRate\nBTCUSDT,1738022400000,0.0001\nBTCUSDT,yesterday,0.0001\n');
    expect(() => loadFundingCsv(bad)).toThrow(`${bad}:3: fundingTime "yesterday" is not epoch milliseconds`);
  });
});

describe('the fast number and time readers', () => {
  it('read every plain decimal exactly as Number() does (property test)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.stringMatching(/^[0-9]{1,9}$/),
        fc.option(fc.stringMatching(/^[0-9]{0,6}$/)),
        (negative, whole, fraction) => {
          const s = `${negative ? '-' : ''}${whole}${fraction === null ? '' : `.${fraction}`}`;
          expect(Object.is(parseDecimal(s), Number(s))).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
    for (const s of ['1e5', '+5', '', '.', '1.2.3', '12345678901234567'])
      expect(Number.isNaN(parseDecimal(s))).toBe(true);
  });

  it('reads ISO times like Date.parse and refuses impossible dates', async () => {
    const dir = tmp();
    const rows = fixtureRows.slice(0, 3).map((r) => r.replace('T', ' ').replace('Z', '+00:00'));
    writeFileSync(join(dir, 'BTCUSDT.csv'), `date,open,high,low,close,volume\n${rows.join('\n')}\n`);
    const c = await loadBarFile(join(dir, 'BTCUSDT.csv'));
    expect(Array.from(c.openTime)).toEqual(fixtureRows.slice(0, 3).map((r) => Date.parse(r.split(',')[0]!)));
    writeFileSync(
      join(dir, 'ETHUSDT.csv'),
      `date,open,high,low,close,volume\n2025-02-30T00:00:00Z,1,1,1,1,1\n2025-03-01T00:00:00Z,1,1,1,1,1\n`,
    );
    await expect(loadBarFile(join(dir, 'ETHUSDT.csv'))).rejects.toThrow(
      ':2: date "2025-02-30T00:00:00Z" is not an ISO-8601 time',
    );
  });
});
