import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeBar, type Bar, type BarColumns } from '../../pipelines/model/index.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/core/', import.meta.url));

/** Real bars from a committed fixture (see test/fixtures/core/PROVENANCE.md), as columns. */
export function fixtureColumns(symbol: 'BTCUSDT' | 'ETHUSDT'): BarColumns {
  const lines = readFileSync(`${FIXTURES}${symbol}-5m-2025-01-28.csv`, 'utf8').trim().split('\n').slice(1);
  const n = lines.length;
  const cols = {
    symbol,
    intervalMs: 300_000,
    openTime: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
    length: n,
  };
  lines.forEach((line, i) => {
    const [date, o, h, l, c, v] = line.split(',');
    cols.openTime[i] = Date.parse(date!);
    cols.open[i] = Number(o);
    cols.high[i] = Number(h);
    cols.low[i] = Number(l);
    cols.close[i] = Number(c);
    cols.volume[i] = Number(v);
  });
  return cols;
}

export function fixtureBars(symbol: 'BTCUSDT' | 'ETHUSDT'): Bar[] {
  const c = fixtureColumns(symbol);
  const out: Bar[] = [];
  for (let i = 0; i < c.length; i++) {
    out.push(
      makeBar(symbol, c.openTime[i]!, c.intervalMs, c.open[i]!, c.high[i]!, c.low[i]!, c.close[i]!, c.volume[i]!),
    );
  }
  return out;
}

/** Real bars of several fixture symbols merged in time order (ties in the given symbol order). */
export function mergedFixtureBars(symbols: readonly ('BTCUSDT' | 'ETHUSDT')[]): Bar[] {
  const all = symbols.flatMap((s, rank) => fixtureBars(s).map((b) => ({ b, rank })));
  all.sort((x, y) => x.b.time - y.b.time || x.rank - y.rank);
  return all.map((x) => x.b);
}
