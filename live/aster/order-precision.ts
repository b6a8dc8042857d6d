import type { Side, SymbolFilters } from '../../pipelines/model/index.ts';
import { floorToStep, roundToTick } from '../../operators/execution/precision.kernel.ts';

export type AsterOrderType =
  'MARKET' | 'LIMIT' | 'STOP' | 'STOP_MARKET' | 'TAKE_PROFIT' | 'TAKE_PROFIT_MARKET' | 'TRAILING_STOP_MARKET';

export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTX';

/** A new order as our code wishes it (numbers); prepared into exchange strings before sending. */
export interface NewOrderRequest {
  readonly symbol: string;
  readonly side: Side;
  readonly type: AsterOrderType;
  /** required: the idempotency key of this intent */
  readonly newClientOrderId: string;
  readonly quantity?: number;
  readonly price?: number;
  readonly stopPrice?: number;
  readonly timeInForce?: TimeInForce;
  readonly reduceOnly?: boolean;
  readonly closePosition?: boolean;
  readonly positionSide?: 'BOTH' | 'LONG' | 'SHORT';
  readonly activationPrice?: number;
  /** TRAILING_STOP_MARKET: 0.1 … 5 where 1 = 1 % */
  readonly callbackRate?: number;
  readonly workingType?: 'MARK_PRICE' | 'CONTRACT_PRICE';
  readonly priceProtect?: boolean;
  readonly newOrderRespType?: 'ACK' | 'RESULT';
}

export type PrecisionRule =
  | 'client-order-id'
  | 'mandatory'
  | 'close-position'
  | 'quantity'
  | 'min-qty'
  | 'max-qty'
  | 'price'
  | 'min-price'
  | 'max-price'
  | 'min-notional'
  | 'percent-price'
  | 'callback-rate';

export type PreparedOrder =
  | { readonly ok: true; readonly params: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly rule: PrecisionRule; readonly reason: string };

const CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const MARKET_LIKE: ReadonlySet<AsterOrderType> = new Set([
  'MARKET',
  'STOP_MARKET',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
]);
const WITH_PRICE: ReadonlySet<AsterOrderType> = new Set(['LIMIT', 'STOP', 'TAKE_PROFIT']);
const WITH_STOP: ReadonlySet<AsterOrderType> = new Set(['STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET']);

/** decimals of a step such as 0.001 or 1e-7 */
export function stepDecimals(step: number): number {
  if (!(step > 0)) return 8;
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** a number as the exchange wants it: fixed decimals of the step, trailing zeros removed */
export function formatDecimal(value: number, step: number): string {
  const fixed = value.toFixed(Math.min(stepDecimals(step), 16));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

const fail = (rule: PrecisionRule, reason: string): PreparedOrder => ({ ok: false, rule, reason });

/**
 * Checks and shapes an order against the symbol's filters BEFORE it is sent. Quantity is floored
 * to the step (never more than asked); every price (limit, stop, activation) is rounded to the
 * tick in the direction that never worsens it for us: BUY down, SELL up (a stop therefore
 * triggers no later than asked). Returns the reason when no valid order can be made.
 * `markPrice` (when known) is used for PERCENT_PRICE and the notional of market-like orders.
 */
export function prepareOrder(req: NewOrderRequest, f: SymbolFilters, markPrice: number | undefined): PreparedOrder {
  if (!CLIENT_ID.test(req.newClientOrderId))
    return fail('client-order-id', `newClientOrderId "${req.newClientOrderId}" does not match ${CLIENT_ID}`);
  const t = req.type;
  const dir = req.side === 'BUY' ? 'down' : 'up';
  const params: Record<string, string> = { symbol: req.symbol, side: req.side, type: t };
  if (req.positionSide !== undefined) params.positionSide = req.positionSide;

  if (req.closePosition === true) {
    if (t !== 'STOP_MARKET' && t !== 'TAKE_PROFIT_MARKET')
      return fail('close-position', `closePosition is only allowed with STOP_MARKET/TAKE_PROFIT_MARKET, not ${t}`);
    if (req.quantity !== undefined && req.quantity !== 0)
      return fail('close-position', 'closePosition cannot be sent with a quantity');
    if (req.reduceOnly === true) return fail('close-position', 'closePosition cannot be sent with reduceOnly');
  }

  // prices
  let price: number | undefined;
  if (WITH_PRICE.has(t)) {
    if (req.price === undefined || !Number.isFinite(req.price) || req.price <= 0)
      return fail('mandatory', `${t} needs a positive price`);
    price = roundToTick(req.price, f.tickSize, dir);
    const bad = checkPriceBounds(price, f, 'price');
    if (bad) return bad;
    if (markPrice !== undefined && markPrice > 0 && f.multiplierUp > 0) {
      const hi = markPrice * f.multiplierUp;
      const lo = markPrice * f.multiplierDown;
      if (req.side === 'BUY' && price > hi)
        return fail('percent-price', `BUY price ${price} above ${hi} (mark ${markPrice} × ${f.multiplierUp})`);
      if (req.side === 'SELL' && price < lo)
        return fail('percent-price', `SELL price ${price} below ${lo} (mark ${markPrice} × ${f.multiplierDown})`);
    }
    params.price = formatDecimal(price, f.tickSize);
  }
  let stopPrice: number | undefined;
  if (WITH_STOP.has(t)) {
    if (req.stopPrice === undefined || !Number.isFinite(req.stopPrice) || req.stopPrice <= 0)
      return fail('mandatory', `${t} needs a positive stopPrice`);
    stopPrice = roundToTick(req.stopPrice, f.tickSize, dir);
    const bad = checkPriceBounds(stopPrice, f, 'stopPrice');
    if (bad) return bad;
    params.stopPrice = formatDecimal(stopPrice, f.tickSize);
  }
  if (t === 'TRAILING_STOP_MARKET') {
    const cb = req.callbackRate;
    if (cb === undefined || !Number.isFinite(cb)) return fail('mandatory', 'TRAILING_STOP_MARKET needs a callbackRate');
    if (cb < 0.1 || cb > 5) return fail('callback-rate', `callbackRate ${cb} outside [0.1, 5] (1 = 1 %)`);
    params.callbackRate = String(Math.round(cb * 10) / 10);
    if (req.activationPrice !== undefined) {
      const a = roundToTick(req.activationPrice, f.tickSize, dir);
      const bad = checkPriceBounds(a, f, 'activationPrice');
      if (bad) return bad;
      params.activationPrice = formatDecimal(a, f.tickSize);
    }
  }
  if (t === 'LIMIT' || t === 'STOP' || t === 'TAKE_PROFIT') params.timeInForce = req.timeInForce ?? 'GTC';

  // quantity
  if (req.closePosition !== true) {
    const wanted = req.quantity;
    if (wanted === undefined || !Number.isFinite(wanted) || wanted <= 0)
      return fail('mandatory', `${t} needs a positive quantity`);
    const marketLike = MARKET_LIKE.has(t);
    const step = marketLike && f.marketStepSize > 0 ? f.marketStepSize : f.stepSize;
    const minQty = marketLike && f.marketMinQty > 0 ? f.marketMinQty : f.minQty;
    const maxQty = marketLike && f.marketMaxQty > 0 ? f.marketMaxQty : f.maxQty;
    const qty = floorToStep(wanted, step);
    if (qty <= 0 || qty < minQty)
      return fail('min-qty', `quantity ${wanted} floors to ${qty} (step ${step}), below minQty ${minQty}`);
    if (maxQty > 0 && qty > maxQty) return fail('max-qty', `quantity ${qty} above maxQty ${maxQty}`);
    if (req.reduceOnly !== true && f.minNotional > 0) {
      const ref = price ?? (markPrice !== undefined && markPrice > 0 ? markPrice : stopPrice);
      if (ref !== undefined && qty * ref < f.minNotional)
        return fail('min-notional', `notional ${(qty * ref).toFixed(4)} below minNotional ${f.minNotional}`);
    }
    params.quantity = formatDecimal(qty, step);
  }

  if (req.reduceOnly === true) params.reduceOnly = 'true';
  if (req.closePosition === true) params.closePosition = 'true';
  if (req.workingType !== undefined) params.workingType = req.workingType;
  if (req.priceProtect !== undefined) params.priceProtect = req.priceProtect ? 'TRUE' : 'FALSE';
  params.newClientOrderId = req.newClientOrderId;
  if (req.newOrderRespType !== undefined) params.newOrderRespType = req.newOrderRespType;
  return { ok: true, params };
}

function checkPriceBounds(p: number, f: SymbolFilters, name: string): PreparedOrder | undefined {
  if (!(p > 0)) return fail('price', `${name} rounds to ${p}`);
  if (f.minPrice > 0 && p < f.minPrice) return fail('min-price', `${name} ${p} below minPrice ${f.minPrice}`);
  if (f.maxPrice > 0 && p > f.maxPrice) return fail('max-price', `${name} ${p} above maxPrice ${f.maxPrice}`);
  return undefined;
}
