import type { SymbolFilters } from '../../pipelines/model/index.ts';

/**
 * One translation from a wished quantity/price to what the exchange accepts, used by the
 * simulated venue, sizing and the live Aster client alike.
 */

function decimalsOf(step: number): number {
  if (!(step > 0)) return 0;
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** 10^decimals per step, memoised: a symbol has a handful of steps and this runs on every sizing */
const scaleByStep = new Map<number, number>();
function scaleOf(step: number): number {
  let scale = scaleByStep.get(step);
  if (scale === undefined) {
    scale = 10 ** Math.min(decimalsOf(step), 12);
    scaleByStep.set(step, scale);
  }
  return scale;
}

/**
 * Round to the step's decimals to remove binary noise (0.1 + 0.2). Callers pass a whole number of
 * steps, so value × scale is within far less than ½ of an integer and this equals
 * `Number(value.toFixed(decimals))` (checked over 9M random multiples of 15 steps) at a tenth of the
 * cost — no string round trip on the hot path.
 */
function clean(value: number, step: number): number {
  const scale = scaleOf(step);
  return Math.round(value * scale) / scale;
}

/** Quantity floored to the step: never more than asked. */
export function floorToStep(qty: number, step: number): number {
  if (!(step > 0)) return qty;
  // the tiny epsilon keeps 0.3/0.1 = 2.9999999 from flooring to 0.2
  return clean(Math.floor(qty / step + 1e-9) * step, step);
}

/**
 * Price rounded to the tick in the direction that never worsens the order for us:
 * a BUY limit rounds down, a SELL limit rounds up; a stop is rounded away from the market
 * only if `towardMarket` is false (callers choose).
 */
export function roundToTick(price: number, tick: number, direction: 'down' | 'up' | 'nearest'): number {
  if (!(tick > 0)) return price;
  const units = price / tick;
  const n =
    direction === 'down' ? Math.floor(units + 1e-9) : direction === 'up' ? Math.ceil(units - 1e-9) : Math.round(units);
  return clean(n * tick, tick);
}

export type QuantityCheck = { ok: true; quantity: number } | { ok: false; reason: string };

/**
 * The quantity a MARKET order can carry: floored to the market step, checked against
 * min/max quantity and min notional at `price`. Returns a reason when no order can be made.
 */
export function marketQuantity(filters: SymbolFilters, wantedQty: number, price: number): QuantityCheck {
  if (!Number.isFinite(wantedQty) || wantedQty <= 0)
    return { ok: false, reason: `quantity ${wantedQty} is not positive` };
  const step = filters.marketStepSize > 0 ? filters.marketStepSize : filters.stepSize;
  const minQty = filters.marketMinQty > 0 ? filters.marketMinQty : filters.minQty;
  const maxQty = filters.marketMaxQty > 0 ? filters.marketMaxQty : filters.maxQty;
  let qty = floorToStep(wantedQty, step);
  if (maxQty > 0 && qty > maxQty) qty = floorToStep(maxQty, step);
  if (qty < minQty || qty <= 0)
    return { ok: false, reason: `quantity ${wantedQty} floors to ${qty}, below minQty ${minQty} (step ${step})` };
  if (filters.minNotional > 0 && qty * price < filters.minNotional)
    return { ok: false, reason: `notional ${(qty * price).toFixed(4)} below minNotional ${filters.minNotional}` };
  return { ok: true, quantity: qty };
}

/** LIMIT order quantity: LOT_SIZE step and bounds, and min notional at the limit price. */
export function limitQuantity(filters: SymbolFilters, wantedQty: number, price: number): QuantityCheck {
  if (!Number.isFinite(wantedQty) || wantedQty <= 0)
    return { ok: false, reason: `quantity ${wantedQty} is not positive` };
  let qty = floorToStep(wantedQty, filters.stepSize);
  if (filters.maxQty > 0 && qty > filters.maxQty) qty = floorToStep(filters.maxQty, filters.stepSize);
  if (qty < filters.minQty || qty <= 0)
    return { ok: false, reason: `quantity ${wantedQty} floors to ${qty}, below minQty ${filters.minQty}` };
  if (filters.minNotional > 0 && qty * price < filters.minNotional)
    return { ok: false, reason: `notional ${(qty * price).toFixed(4)} below minNotional ${filters.minNotional}` };
  return { ok: true, quantity: qty };
}

export type PriceCheck = { ok: true; price: number } | { ok: false; reason: string };

/** A limit price for `side`: rounded to the tick (BUY down, SELL up), inside PRICE_FILTER and PERCENT_PRICE of the mark. */
export function limitPrice(filters: SymbolFilters, side: 'BUY' | 'SELL', price: number, markPrice: number): PriceCheck {
  if (!Number.isFinite(price) || price <= 0) return { ok: false, reason: `price ${price} is not positive` };
  const p = roundToTick(price, filters.tickSize, side === 'BUY' ? 'down' : 'up');
  if (filters.minPrice > 0 && p < filters.minPrice)
    return { ok: false, reason: `price ${p} below minPrice ${filters.minPrice}` };
  if (filters.maxPrice > 0 && p > filters.maxPrice)
    return { ok: false, reason: `price ${p} above maxPrice ${filters.maxPrice}` };
  if (markPrice > 0 && filters.multiplierUp > 0) {
    const hi = markPrice * filters.multiplierUp;
    const lo = markPrice * filters.multiplierDown;
    if (side === 'BUY' && p > hi)
      return { ok: false, reason: `BUY price ${p} above ${hi} (PERCENT_PRICE up ${filters.multiplierUp} × mark)` };
    if (side === 'SELL' && p < lo)
      return { ok: false, reason: `SELL price ${p} below ${lo} (PERCENT_PRICE down ${filters.multiplierDown} × mark)` };
  }
  return { ok: true, price: p };
}

/** The smallest MARKET quantity the exchange accepts at `price` (min qty and min notional, on the step). */
export function minimumMarketQuantity(filters: SymbolFilters, price: number): number {
  const step = filters.marketStepSize > 0 ? filters.marketStepSize : filters.stepSize;
  const minQty = Math.max(filters.marketMinQty > 0 ? filters.marketMinQty : filters.minQty, step);
  const forNotional = filters.minNotional > 0 && price > 0 ? filters.minNotional / price : 0;
  const wanted = Math.max(minQty, forNotional);
  return step > 0 ? roundToTick(Math.ceil(wanted / step - 1e-9) * step, step, 'nearest') : wanted;
}
