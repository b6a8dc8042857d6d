import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadBarFile } from '../../backtests/data/index.ts';
import { readBarsWithDuckDB } from '../../backtests/data/duckdb-bars.ts';
import { parseBarCsv } from '../../backtests/data/csv-bars.ts';
import { hasSharedData, median, SHARED_DATA } from '../kit.ts';
import type { Figures } from '../run.ts';

/** Every real freqtrade CSV under ../shared/data: about 1.2M rows in 14 files. */
function sharedCsvFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['perp-5m-2025', 'spot-5m-2024', 'spot-1m-2025', 'perp-1m-2025-05']) {
    const full = join(SHARED_DATA, dir);
    for (const f of readdirSync(full)) if (f.endsWith('.csv')) out.push(join(full, f));
  }
  return out;
}

/**
 * Loading bars to validated columns: the text parser and DuckDB over the same real files
 * (median of 3 runs each), reported as seconds per million rows, plus the shipped gzip sample.
 */
export async function benchLoad(): Promise<Figures> {
  const out: Figures = {};
  const sample = new URL('../../data/sample/perp-5m/BTCUSDT.csv.gz', import.meta.url).pathname;
  const gz: number[] = [];
  for (let run = 0; run < 3; run++) {
    const t = performance.now();
    await loadBarFile(sample);
    gz.push((performance.now() - t) / 1000);
  }
  out.csv_gz_sample_rows_per_s = { value: 34_764 / median(gz), unit: 'rows/s', note: 'data/sample BTCUSDT.csv.gz' };
  if (!hasSharedData()) return out;

  const files = sharedCsvFiles();
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
  const perMillion = (seconds: number) => (seconds / rows) * 1e6;
  out.load_1m_rows_s = {
    value: perMillion(median(text)),
    unit: 's',
    note: `text parser, ${rows} real rows in ${files.length} files (${mb.toFixed(0)} MB), validated, per 1M rows`,
  };
  out.load_1m_rows_duckdb_s = {
    value: perMillion(median(duck)),
    unit: 's',
    note: 'DuckDB read_csv, same files, same validation',
  };
  return out;
}
