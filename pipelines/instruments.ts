import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { SymbolFilters } from './model/index.ts';
import { SapphireError } from './errors.ts';

/**
 * The exchange's trading rules, in one place: the one parser of an exchangeInfo reply
 * (`/fapi/v1/exchangeInfo`, used by the Aster client, `--filters FILE` and the bundled capture) and
 * the bundled real Aster exchangeInfo of 2026-01-12 (six symbols, copied from ../shared/reference),
 * so simulated orders obey the same step, tick and min-notional rules as live ones. A backtest on
 * a symbol outside it is refused (`backtestFilters`) unless the user gives the venue's
 * exchangeInfo with `--filters FILE`: made-up filters would make made-up fills.
 */
const FILE = fileURLToPath(new URL('./aster-exchange-info-2026-01-12.json', import.meta.url));

/** A number the exchange may send as a string; anything else is an error, never a silent zero. */
const exchangeNumber = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : Number(v);
  if (v === '' || !Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `not a number: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const FilterSchema = z.looseObject({ filterType: z.string() });
export const SymbolInfoSchema = z.looseObject({
  symbol: z.string().min(1),
  status: z.string().optional(),
  pricePrecision: exchangeNumber.optional(),
  quantityPrecision: exchangeNumber.optional(),
  filters: z.array(FilterSchema),
});
export const ExchangeInfoSchema = z.looseObject({
  serverTime: exchangeNumber.optional(),
  symbols: z.array(SymbolInfoSchema),
});
export type SymbolInfo = z.infer<typeof SymbolInfoSchema>;

function field(f: Record<string, unknown> | undefined, key: string): number {
  if (f === undefined) return 0;
  const v = f[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : 0;
  return Number.isFinite(n) ? n : 0;
}

/** exchangeInfo symbol → our SymbolFilters (a missing filter disables its rule: 0). */
export function toSymbolFilters(s: SymbolInfo): SymbolFilters {
  const byType = new Map<string, Record<string, unknown>>();
  for (const f of s.filters) byType.set(f.filterType, f);
  const price = byType.get('PRICE_FILTER');
  const lot = byType.get('LOT_SIZE');
  const market = byType.get('MARKET_LOT_SIZE');
  const pct = byType.get('PERCENT_PRICE');
  return {
    symbol: s.symbol,
    tickSize: field(price, 'tickSize'),
    minPrice: field(price, 'minPrice'),
    maxPrice: field(price, 'maxPrice'),
    stepSize: field(lot, 'stepSize'),
    minQty: field(lot, 'minQty'),
    maxQty: field(lot, 'maxQty'),
    marketStepSize: field(market, 'stepSize'),
    marketMinQty: field(market, 'minQty'),
    marketMaxQty: field(market, 'maxQty'),
    minNotional: field(byType.get('MIN_NOTIONAL'), 'notional'),
    multiplierUp: field(pct, 'multiplierUp'),
    multiplierDown: field(pct, 'multiplierDown'),
    pricePrecision: s.pricePrecision ?? 0,
    quantityPrecision: s.quantityPrecision ?? 0,
  };
}

/** An exchangeInfo reply as filters by symbol; `source` names it in the error of a bad reply. */
export function parseExchangeInfoFilters(json: unknown, source = 'exchangeInfo'): Map<string, SymbolFilters> {
  const parsed = ExchangeInfoSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where =
      issue.path.length > 0 ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '';
    throw new SapphireError('DATA_FILE_INVALID', `${source}: ${where.replace(/^\./, '') || 'reply'}: ${issue.message}`);
  }
  return new Map(parsed.data.symbols.map((s) => [s.symbol, toSymbolFilters(s)]));
}

let cached: Map<string, SymbolFilters> | undefined;

export function asterFilters(): Map<string, SymbolFilters> {
  cached ??= parseExchangeInfoFilters(JSON.parse(readFileSync(FILE, 'utf8')) as unknown, FILE);
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
  const filters = parseExchangeInfoFilters(json, path);
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
