import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadBarFile } from '../../backtests/data/index.ts';
import { readBarsWithDuckDB } from '../../backtests/data/duckdb-bars.ts';
import { parseBarCsv } from '../../backtests/data/csv-bars.ts';
import { readFileSync } from 'node:fs';
import { hasSharedData, median, SHARED_DATA } from '../kit.ts';
import type { Figures } from '../run.ts';

/** Loading bars: the text parser vs DuckDB on the same real CSVs, and the gzip sample. */
export async function benchLoad(): Promise<Figures> {
  if (!hasSharedData()) return {};
  const dir = `${SHARED_DATA}perp-5m-2025`;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .map((f) => join(dir, f));
  const mb = files.reduce((s, f) => s + statSync(f).size, 0) / 2 ** 20;
  const text: number[] = [];
  const duck: number[] = [];
  let rows = 0;
  for (let run = 0; run < 3; run++) {
    let t = performance.now();
    rows = 0;
    for (const f of files) rows += parseBarCsv(readFileSync(f, 'utf8'), f).columns.length;
    text.push((performance.now() - t) / 1000);
    t = performance.now();
    for (const f of files) await readBarsWithDuckDB(f, 'csv');
    duck.push((performance.now() - t) / 1000);
  }
  const gz = await (async () => {
    const times: number[] = [];
    const path = new URL('../../data/sample/perp-5m/BTCUSDT.csv.gz', import.meta.url).pathname;
    for (let run = 0; run < 3; run++) {
      const t = performance.now();
      await loadBarFile(path);
      times.push((performance.now() - t) / 1000);
    }
    return 34_764 / median(times);
  })();
  return {
    csv_text_parser_rows_per_s: {
      value: rows / median(text),
      unit: 'rows/s',
      note: `${files.length} files, ${mb.toFixed(0)} MB, validated, median of 3`,
    },
    csv_duckdb_rows_per_s: { value: rows / median(duck), unit: 'rows/s', note: 'same files, same validation' },
    csv_gz_sample_rows_per_s: { value: gz, unit: 'rows/s', note: 'data/sample BTCUSDT.csv.gz' },
  };
}
