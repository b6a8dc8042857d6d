import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SymbolFilters } from '../pipelines/model/index.ts';
import { SapphireError } from '../pipelines/errors.ts';

/**
 * Exchange filters for backtests: the real Aster exchangeInfo of 2026-01-12 (six symbols, copied
 * from ../shared/reference), so simulated orders obey the same step, tick and min-notional rules
 * as live ones. A backtest on a symbol outside it is refused (`backtestFilters`) unless the user
 * gives the venue's exchangeInfo with `--filters FILE`: made-up filters would make made-up fills.
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

/**
 * Filters for a backtest: from `extra` (a user's exchangeInfo, which wins) or the bundled Aster
 * file. A symbol in neither is an error naming it: permissive filters would silently accept
 * orders (sizes, steps, minimum notional) the venue refuses.
 */
export function backtestFilters(
  symbols: readonly string[],
  extra?: ReadonlyMap<string, SymbolFilters>,
): Map<string, SymbolFilters> {
  const known = asterFilters();
  const out = new Map<string, SymbolFilters>();
  const unknown: string[] = [];
  for (const s of symbols) {
    const f = extra?.get(s) ?? known.get(s);
    if (f === undefined) unknown.push(s);
    else out.set(s, f);
  }
  if (unknown.length > 0) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      `no exchange filters for ${unknown.join(', ')}: the bundled exchangeInfo (2026-01-12) has ${[...known.keys()].join(', ')}` +
        (extra ? ` and the --filters file has ${[...extra.keys()].join(', ') || 'no symbols'}` : '') +
        "; pass the venue's exchangeInfo with --filters FILE (/fapi/v1/exchangeInfo JSON)",
    );
  }
  return out;
}

/** A user's exchangeInfo file (the `/fapi/v1/exchangeInfo` reply), as filters by symbol. */
export function loadFiltersFile(path: string): Map<string, SymbolFilters> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SapphireError('DATA_NOT_FOUND', `${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SapphireError('DATA_FILE_INVALID', `${path}: not JSON (${(error as Error).message})`);
  }
  const symbols = (json as { symbols?: unknown } | null)?.symbols;
  if (!Array.isArray(symbols) || symbols.length === 0) {
    throw new SapphireError('DATA_FILE_INVALID', `${path}: not an exchangeInfo reply (no "symbols" list)`);
  }
  symbols.forEach((raw: unknown, i) => {
    const r = raw as { symbol?: unknown; filters?: unknown } | null;
    if (typeof r?.symbol !== 'string' || !Array.isArray(r.filters)) {
      throw new SapphireError('DATA_FILE_INVALID', `${path}: symbols[${i}] has no "symbol" name or no "filters" list`);
    }
  });
  const filters = parseExchangeInfoFilters(json);
  for (const f of filters.values()) {
    if (!(f.stepSize > 0) || !(f.tickSize > 0)) {
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `${path}: ${f.symbol} needs LOT_SIZE.stepSize and PRICE_FILTER.tickSize above 0`,
      );
    }
  }
  return filters;
}
