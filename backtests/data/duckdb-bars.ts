import { DuckDBInstance } from '@duckdb/node-api';
import { SapphireError } from '../../pipelines/errors.ts';
import { validateColumns, type ParsedBars } from './csv-bars.ts';

/**
 * DuckDB path: Parquet files and large CSVs. DuckDB reads and converts columns in native code
 * (several times faster than the text parser on big files); every row is still validated by the
 * same rules as the text path, so both give the same bars or the same error.
 */

const TIME_CANDIDATES = ['date', 'open_time', 'opentime', 'timestamp', 'time'];

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

let instance: Promise<DuckDBInstance> | null = null;
function duck(): Promise<DuckDBInstance> {
  instance ??= DuckDBInstance.create(':memory:');
  return instance;
}

export async function readBarsWithDuckDB(path: string, kind: 'parquet' | 'csv'): Promise<ParsedBars> {
  const source =
    kind === 'parquet'
      ? `read_parquet(${sqlString(path)})`
      : `read_csv(${sqlString(path)}, header = true, auto_detect = true, sample_size = 20480)`;
  const connection = await (await duck()).connect();
  try {
    let described;
    try {
      described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    } catch (error) {
      throw new SapphireError('DATA_FILE_INVALID', `${path}: cannot be read as ${kind}: ${(error as Error).message}`);
    }
    const columns = described.getRowObjectsJS().map((r) => ({
      name: String(r.column_name),
      type: String(r.column_type).toUpperCase(),
    }));
    const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
    const timeColumn = TIME_CANDIDATES.map((n) => byName.get(n)).find((c) => c !== undefined);
    if (!timeColumn) {
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `${path}: no time column (expected one of ${TIME_CANDIDATES.join(', ')}; found ${columns.map((c) => c.name).join(', ')})`,
      );
    }
    const need = ['open', 'high', 'low', 'close', 'volume'];
    for (const n of need) {
      if (!byName.has(n)) throw new SapphireError('DATA_FILE_INVALID', `${path}: missing column "${n}"`);
    }
    const t = quoteIdent(timeColumn.name);
    const timeSql = timeColumn.type.startsWith('TIMESTAMP')
      ? `epoch_ms(${t})::DOUBLE`
      : /INT|DOUBLE|FLOAT|DECIMAL/.test(timeColumn.type)
        ? // epoch numbers: microseconds (Binance 2025+ dumps) become milliseconds
          `CASE WHEN ${t} > 1e14 THEN floor(${t} / 1000) ELSE ${t} END::DOUBLE`
        : `epoch_ms(TRY_CAST(${t} AS TIMESTAMPTZ))::DOUBLE`;
    // Binance-native order flow, read only when every one of its columns is there
    const flowNames = ['quote_volume', 'count', 'taker_buy_volume', 'taker_buy_quote_volume'];
    const hasFlow = flowNames.every((n) => byName.has(n));
    const cast = (n: string): string => `TRY_CAST(${quoteIdent(byName.get(n)!.name)} AS DOUBLE)`;
    const cols = [...need, ...(hasFlow ? flowNames : [])].map(cast).join(', ');
    const reader = await connection.runAndReadAll(`SELECT ${timeSql}, ${cols} FROM ${source}`);
    const js = reader.getColumnsJS() as (number | null)[][];
    const length = js[0]?.length ?? 0;
    if (length === 0) throw new SapphireError('DATA_FILE_INVALID', `${path}: no bars`);
    const toArray = (values: (number | null)[]) => {
      const out = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = values[i] ?? Number.NaN;
      return out;
    };
    const parsed = {
      openTime: toArray(js[0]!),
      open: toArray(js[1]!),
      high: toArray(js[2]!),
      low: toArray(js[3]!),
      close: toArray(js[4]!),
      volume: toArray(js[5]!),
      ...(hasFlow
        ? {
            flow: {
              quoteVolume: toArray(js[6]!),
              trades: toArray(js[7]!),
              takerBuyVolume: toArray(js[8]!),
              takerBuyQuoteVolume: toArray(js[9]!),
            },
          }
        : {}),
      length,
    };
    // a CSV's data row i is on line i + 2 (after the header); Parquet has rows, not lines
    const where = kind === 'csv' ? (row: number) => `${path}:${row + 2}` : (row: number) => `${path}: row ${row + 1}`;
    validateColumns(parsed, where);
    return { format: timeColumn.name.toLowerCase() === 'open_time' ? 'binance' : 'freqtrade', columns: parsed, where };
  } finally {
    connection.closeSync();
  }
}
