import type { SymbolFilters } from '../pipelines/model/index.ts';
import { roundToTick } from '../operators/execution/precision.kernel.ts';
import type { OrderRequest, Rejection } from './order-request.ts';

/** The exchange's order rules on numbers: precision, grid, bounds, price bands and trigger sides. */

export const reject = (code: number, msg: string): Rejection => ({ ok: false, code, msg });
export const isRej = (x: unknown): x is Rejection =>
  typeof x === 'object' && x !== null && (x as Rejection).ok === false;

// ---------- number helpers ----------

function decimals(raw: string): number {
  const dot = raw.indexOf('.');
  if (dot < 0) return 0;
  return raw.slice(dot + 1).replace(/0+$/, '').length;
}

function onGrid(value: number, origin: number, step: number): boolean {
  if (!(step > 0)) return true;
  const units = (value - origin) / step;
  return Math.abs(units - Math.round(units)) < 1e-7;
}

function parseNum(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) return NaN;
  return Number(raw);
}

export function qtyClean(q: number): number {
  return Number(q.toFixed(10));
}

// ---------- validation ----------

function checkPrice(f: SymbolFilters, raw: string, name: string): Rejection | number {
  const v = parseNum(raw);
  if (v === undefined || !Number.isFinite(v))
    return reject(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
  if (v <= 0) return reject(-4001, 'Price less than 0.');
  if (decimals(raw) > Math.max(f.pricePrecision, 0) && f.pricePrecision > 0)
    return reject(-1111, 'Precision is over the maximum defined for this asset.');
  if (f.minPrice > 0 && v < f.minPrice) return reject(-4013, 'Price less than min price.');
  if (f.maxPrice > 0 && v > f.maxPrice) return reject(-4002, 'Price greater than max price.');
  if (!onGrid(v, f.minPrice, f.tickSize)) return reject(-4014, 'Price not increased by tick size.');
  return v;
}

function checkQty(f: SymbolFilters, raw: string, market: boolean): Rejection | number {
  const v = parseNum(raw);
  if (v === undefined || !Number.isFinite(v))
    return reject(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.");
  if (v <= 0) return reject(-4003, 'Quantity less than or equal to zero.');
  if (decimals(raw) > f.quantityPrecision && f.quantityPrecision >= 0 && f.stepSize > 0)
    return reject(-1111, 'Precision is over the maximum defined for this asset.');
  const step = market && f.marketStepSize > 0 ? f.marketStepSize : f.stepSize;
  const minQty = market && f.marketMinQty > 0 ? f.marketMinQty : f.minQty;
  const maxQty = market && f.marketMaxQty > 0 ? f.marketMaxQty : f.maxQty;
  if (minQty > 0 && v < minQty - 1e-12) return reject(-4004, 'Quantity less than min quantity.');
  if (maxQty > 0 && v > maxQty + 1e-12) return reject(-4005, 'Quantity greater than max quantity.');
  if (!onGrid(v, minQty, step)) return reject(-4023, 'Qty not increased by step size.');
  return v;
}

export interface OrderAmounts {
  qty: number;
  price: number;
  stopPrice: number;
  activatePrice: number | undefined;
  priceRate: number | undefined;
}

/** quantity, limit price (inside the price band), stop price (not already triggered) and trailing terms */
export function checkAmounts(f: SymbolFilters, req: OrderRequest, last: number): OrderAmounts | Rejection {
  const t = req.type;
  const closePosition = req.closePosition === true;
  // quantity
  let qty = 0;
  if (!closePosition) {
    if (req.quantity === undefined)
      return reject(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.");
    const q = checkQty(f, req.quantity, t !== 'LIMIT' && t !== 'STOP' && t !== 'TAKE_PROFIT');
    if (isRej(q)) return q;
    qty = q;
  }

  // price
  let price = 0;
  if (t === 'LIMIT' || t === 'STOP' || t === 'TAKE_PROFIT') {
    if (req.price === undefined)
      return reject(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.");
    const p = checkPrice(f, req.price, 'price');
    if (isRej(p)) return p;
    price = p;
    if (f.multiplierUp > 0 && req.side === 'BUY' && price > last * f.multiplierUp)
      return reject(
        -4016,
        `Limit price can't be higher than ${roundToTick(last * f.multiplierUp, f.tickSize, 'down')}.`,
      );
    if (f.multiplierDown > 0 && req.side === 'SELL' && price < last * f.multiplierDown)
      return reject(
        -4024,
        `Limit price can't be lower than ${roundToTick(last * f.multiplierDown, f.tickSize, 'up')}.`,
      );
  } else if (req.price !== undefined && t !== 'MARKET') {
    return reject(-1106, "Parameter 'price' sent when not required.");
  }

  // stop price
  let stopPrice = 0;
  if (t === 'STOP' || t === 'STOP_MARKET' || t === 'TAKE_PROFIT' || t === 'TAKE_PROFIT_MARKET') {
    if (req.stopPrice === undefined)
      return reject(-1102, "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.");
    const s = checkPrice(f, req.stopPrice, 'stopPrice');
    if (isRej(s)) return s;
    stopPrice = s;
    const isStop = t === 'STOP' || t === 'STOP_MARKET';
    const wouldTrigger =
      req.side === 'BUY'
        ? isStop
          ? last >= stopPrice
          : last <= stopPrice
        : isStop
          ? last <= stopPrice
          : last >= stopPrice;
    if (wouldTrigger) return reject(-2021, 'Order would immediately trigger.');
  }

  // trailing
  let activatePrice: number | undefined;
  let priceRate: number | undefined;
  if (t === 'TRAILING_STOP_MARKET') {
    const cb = parseNum(req.callbackRate);
    if (cb === undefined || !Number.isFinite(cb))
      return reject(-1102, "Mandatory parameter 'callbackRate' was not sent, was empty/null, or malformed.");
    if (cb < 0.1 || cb > 5) return reject(-2007, 'Invalid callBackRate.');
    priceRate = cb;
    if (req.activationPrice !== undefined) {
      const a = checkPrice(f, req.activationPrice, 'activationPrice');
      if (isRej(a)) return a;
      if ((req.side === 'BUY' && a >= last) || (req.side === 'SELL' && a <= last))
        return reject(-2021, 'Order would immediately trigger.');
      activatePrice = a;
    }
  }

  return { qty, price, stopPrice, activatePrice, priceRate };
}
