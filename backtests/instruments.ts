import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SymbolFilters } from '../pipelines/model/index.ts';

/**
 * Exchange filters for backtests: the real Aster exchangeInfo of 2026-01-12 (six symbols, copied
 * from ../shared/reference), so simulated orders obey the same step, tick and min-notional rules
 * as live ones. A symbol outside it gets permissive filters, reported by `filtersFor`'s caller.
 */
const FILE = fileURLToPath(new URL('./aster-exchange-info-2026-01-12.json', import.meta.url));

interface RawFilter {
  filterType: string;
  [k: string]: unknown;
}

function n(v: unknown): number {
  const x = Number(v);
  return Number.isFinite(x) ? x : 0;
}

export function parseExchangeInfoFilters(json: unknown): Map<string, SymbolFilters> {
  const out = new Map<string, SymbolFilters>();
  const symbols = (json as { symbols?: unknown[] }).symbols ?? [];
  for (const raw of symbols as {
    symbol: string;
    pricePrecision?: unknown;
    quantityPrecision?: unknown;
    filters: RawFilter[];
  }[]) {
    const f = (type: string): RawFilter => raw.filters.find((x) => x.filterType === type) ?? { filterType: type };
    const price = f('PRICE_FILTER');
    const lot = f('LOT_SIZE');
    const market = f('MARKET_LOT_SIZE');
    const pct = f('PERCENT_PRICE');
    out.set(raw.symbol, {
      symbol: raw.symbol,
      tickSize: n(price.tickSize),
      minPrice: n(price.minPrice),
      maxPrice: n(price.maxPrice),
      stepSize: n(lot.stepSize),
      minQty: n(lot.minQty),
      maxQty: n(lot.maxQty),
      marketStepSize: n(market.stepSize),
      marketMinQty: n(market.minQty),
      marketMaxQty: n(market.maxQty),
      minNotional: n(f('MIN_NOTIONAL').notional),
      multiplierUp: n(pct.multiplierUp),
      multiplierDown: n(pct.multiplierDown),
      pricePrecision: n(raw.pricePrecision),
      quantityPrecision: n(raw.quantityPrecision),
    });
  }
  return out;
}

let cached: Map<string, SymbolFilters> | undefined;

export function asterFilters(): Map<string, SymbolFilters> {
  cached ??= parseExchangeInfoFilters(JSON.parse(readFileSync(FILE, 'utf8')) as unknown);
  return cached;
}

/** Filters that only forbid non-positive sizes: for symbols the bundled exchangeInfo lacks. */
export function permissiveFilters(symbol: string): SymbolFilters {
  return {
    symbol,
    tickSize: 0,
    minPrice: 0,
    maxPrice: 0,
    stepSize: 1e-8,
    minQty: 1e-8,
    maxQty: 0,
    marketStepSize: 1e-8,
    marketMinQty: 1e-8,
    marketMaxQty: 0,
    minNotional: 5,
    multiplierUp: 0,
    multiplierDown: 0,
    pricePrecision: 8,
    quantityPrecision: 8,
  };
}

export function filtersFor(symbols: readonly string[]): Map<string, SymbolFilters> {
  const known = asterFilters();
  return new Map(symbols.map((s) => [s, known.get(s) ?? permissiveFilters(s)]));
}
