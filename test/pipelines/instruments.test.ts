import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asterFilters, loadFiltersFile, parseExchangeInfoFilters } from '../../pipelines/instruments.ts';
import { ExchangeInfoSchema, toSymbolFilters } from '../../live/aster/schemas.ts';

// the real exchangeInfo capture of 2026-01-12 shipped with the product
const CAPTURE = join(import.meta.dirname, '../../pipelines/aster-exchange-info-2026-01-12.json');
const RAW = JSON.parse(readFileSync(CAPTURE, 'utf8')) as { symbols: Record<string, unknown>[] };

describe('the one exchangeInfo parser', () => {
  it('the Aster client, --filters files and the bundled capture read the same rules', () => {
    const client = new Map(ExchangeInfoSchema.parse(RAW).symbols.map((s) => [s.symbol, toSymbolFilters(s)]));
    const dir = mkdtempSync(join(tmpdir(), 'filters-'));
    writeFileSync(join(dir, 'info.json'), JSON.stringify(RAW));
    expect(client.size).toBe(6);
    expect(loadFiltersFile(join(dir, 'info.json'))).toEqual(client);
    expect(asterFilters()).toEqual(client);
    const eth = client.get('ETHUSDT')!;
    expect(eth.stepSize).toBeGreaterThan(0);
    expect(eth.tickSize).toBeGreaterThan(0);
    expect(eth.minNotional).toBeGreaterThan(0);
  });

  it('a precision that is not a number is an error naming the file and field, not a silent 0', () => {
    const bad = structuredClone(RAW);
    bad.symbols[1]!.quantityPrecision = 'three';
    const path = join(mkdtempSync(join(tmpdir(), 'filters-')), 'bad.json');
    writeFileSync(path, JSON.stringify(bad));
    expect(() => loadFiltersFile(path)).toThrow(
      `DATA_FILE_INVALID: ${path}: symbols[1].quantityPrecision: not a number: "three"`,
    );
    expect(() => parseExchangeInfoFilters({ symbols: [{ symbol: 'X' }] })).toThrow(
      'DATA_FILE_INVALID: exchangeInfo: symbols[0].filters:',
    );
  });
});
