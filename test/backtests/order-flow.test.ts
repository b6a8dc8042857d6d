import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../pipelines/model/index.ts';
import { forEachMergedBar, loadBarFile, loadDataset, parseBarCsv, sliceColumns } from '../../backtests/data/index.ts';
import { readBarsWithDuckDB } from '../../backtests/data/duckdb-bars.ts';

/** Order flow (quote volume, trade count, taker-buy volume) read from Binance-native files only. */
const NATIVE = 'test/fixtures/flow/AVAXUSDT-1m-2023-02-01.csv';
// the fixture's first two rows, as Binance wrote them
const ROW0 = { quoteVolume: 219303.956, trades: 500, takerBuyVolume: 6254, takerBuyQuoteVolume: 123933.669 };
const ROW1 = { quoteVolume: 144686.792, trades: 429, takerBuyVolume: 3335, takerBuyQuoteVolume: 66074.076 };

describe('order flow in the bar loaders', () => {
  it('reads quote volume, count and taker-buy volumes from a native file, with or without its header', async () => {
    const c = await loadBarFile(NATIVE);
    expect(c.length).toBe(720);
    expect(c.flow).toBeDefined();
    expect(c.flow!.quoteVolume[0]).toBe(ROW0.quoteVolume);
    expect(c.flow!.trades[0]).toBe(ROW0.trades);
    expect(c.flow!.takerBuyVolume[0]).toBe(ROW0.takerBuyVolume);
    expect(c.flow!.takerBuyQuoteVolume[0]).toBe(ROW0.takerBuyQuoteVolume);
    expect(c.flow!.trades[1]).toBe(ROW1.trades);
    const headless = readFileSync(NATIVE, 'utf8').split('\n').slice(1).join('\n');
    const parsed = parseBarCsv(headless, 'headless.csv');
    expect(parsed.columns.flow!.takerBuyQuoteVolume[1]).toBe(ROW1.takerBuyQuoteVolume);
    expect(parsed.columns.flow!.quoteVolume.length).toBe(720);
  });

  it('DuckDB reads the same flow as the text parser', async () => {
    const text = await loadBarFile(NATIVE);
    const duck = await readBarsWithDuckDB(NATIVE, 'csv');
    expect(Array.from(duck.columns.flow!.trades)).toEqual(Array.from(text.flow!.trades));
    expect(Array.from(duck.columns.flow!.quoteVolume)).toEqual(Array.from(text.flow!.quoteVolume));
  });

  it('bars carry the flow; a window keeps it', async () => {
    const [c] = await loadDataset({ dir: NATIVE, from: 1675209600000 + 60_000 });
    expect(c!.flow!.trades[0]).toBe(ROW1.trades);
    const bars: Bar[] = [];
    forEachMergedBar([sliceColumns(c!, undefined, 1675209600000 + 180_000)], (b) => void bars.push(b));
    expect(bars).toHaveLength(2);
    expect(bars[0]).toMatchObject(ROW1);
  });

  it('files without the columns give no flow: absent, never zeros', async () => {
    const [btc] = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT'] });
    expect(btc!.flow).toBeUndefined();
    let first: Bar | undefined;
    forEachMergedBar([btc!], (b) => {
      first = b;
      return false;
    });
    for (const k of ['quoteVolume', 'trades', 'takerBuyVolume', 'takerBuyQuoteVolume'])
      expect(first).not.toHaveProperty(k);
    // a native file cut to its first seven columns has none either
    const seven = readFileSync(NATIVE, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(',').slice(0, 7).join(','))
      .join('\n');
    expect(parseBarCsv(seven, 'seven.csv').columns.flow).toBeUndefined();
  });

  it('joins a symbol’s files keeping flow only when every file has it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flow-'));
    const lines = readFileSync(NATIVE, 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'AVAXUSDT-1m-a.csv'), lines.slice(0, 301).join('\n'));
    writeFileSync(join(dir, 'AVAXUSDT-1m-b.csv'), [lines[0], ...lines.slice(301)].join('\n'));
    const [both] = await loadDataset({ dir });
    expect(both!.flow!.trades[300]).toBe(Number(lines[301]!.split(',')[8]));
    writeFileSync(
      join(dir, 'AVAXUSDT-1m-b.csv'),
      lines
        .slice(301)
        .map((l) => l.split(',').slice(0, 7).join(','))
        .join('\n'),
    );
    const [mixed] = await loadDataset({ dir });
    expect(mixed!.length).toBe(720);
    expect(mixed!.flow).toBeUndefined();
  });

  it('refuses a negative or missing flow field with its file and line', () => {
    const lines = readFileSync(NATIVE, 'utf8').trim().split('\n').slice(0, 4);
    const bad = lines.map((l, i) => (i === 2 ? l.replace(/,429,/, ',-429,') : l)).join('\n');
    expect(() => parseBarCsv(bad, 'bad.csv')).toThrow(/bad\.csv:3: trades -429 is negative/);
    const short = lines.map((l, i) => (i === 3 ? l.split(',').slice(0, 8).join(',') : l)).join('\n');
    expect(() => parseBarCsv(short, 'short.csv')).toThrow(/short\.csv:4: .*order flow missing/);
  });
});
