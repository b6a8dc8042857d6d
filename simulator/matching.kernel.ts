import type { SymbolFilters } from '../pipelines/model/index.ts';
import { roundToTick } from '../operators/execution/precision.kernel.ts';
import {
  accountMargin,
  isLiquidatable,
  isolatedLiquidationPrice,
  liquidationFee,
  maintenanceMargin,
  liquidationPrice as marginLiquidationPrice,
  maxLeverage,
  maxNotional,
  type BracketTable,
  type MarginPosition,
} from '../pipelines/margin/margin.kernel.ts';
import { leverageBrackets } from '../pipelines/margin/leverage-brackets.ts';
import {
  levelQuantity,
  quantityWithin,
  restingFillQuantity,
  walkPrice,
  type LiquidityParams,
} from '../pipelines/liquidity/liquidity.kernel.ts';
import { checkAmounts, isRej, qtyClean, reject, type OrderAmounts } from './order-rules.kernel.ts';
import type { OrderRequest, OrderType, Rejection, Side, TimeInForce } from './order-request.ts';

/**
 * The simulator's matching engine: pure bookkeeping, no I/O and no clock (time is passed in).
 *
 * Market model (documented, because nothing here may invent a price):
 * - The "latest price" and the mark price of a symbol are the close of the last replayed bar.
 * - When a new bar is replayed, its path is walked as open → low → high → close for a bar that
 *   closes at or above its open, and open → high → low → close otherwise. The jump from the previous
 *   close to the new open is a gap: anything it triggers fills at the open.
 * - Liquidity (pipelines/liquidity, the same kernel as the backtest venue; `cfg.liquidity`): the book
 *   is modelled on the last replayed bar's volume. MARKET orders walk it from the latest price moved
 *   by `slippageBps`, and fill at the walk's average, rounded to the tick against the taker. A
 *   marketable LIMIT takes what the levels within its price hold: FOK all or nothing, IOC the rest
 *   expires, GTC the rest rests. A resting LIMIT the path reaches fills at its price (maker), once a
 *   bar, by its queue share of the bar's volume traded at or through it; a bar gapping through it
 *   fills it whole at the open.
 * - STOP/TAKE_PROFIT triggers follow the Aster rules (BUY stop: latest ≥ stopPrice, SELL stop: latest ≤
 *   stopPrice, take-profits mirrored). A triggered *_MARKET order walks the book from the trigger price
 *   (the first price after the trigger on the bar path) moved by the slippage; a triggered
 *   STOP/TAKE_PROFIT becomes a LIMIT order at `price`.
 * - TRAILING_STOP_MARKET: SELL tracks the highest price since placement, is active once that highest is
 *   ≥ activationPrice, and fires when the price falls to highest × (1 − callbackRate%); BUY mirrored.
 * - One-way position mode (positionSide BOTH): signed amount, average entry, realised PnL to the
 *   wallet balance, fees from the wallet balance, funding paid by longs when the rate is positive.
 * Without `cfg.liquidity` depth is unlimited: an order that can fill, fills whole at one price.
 * - Margin and liquidation (pipelines/margin, the same kernel as the backtest venue): cross margin;
 *   leverage is refused above the symbol's first-bracket maximum (-4028); when the path reaches a
 *   position's liquidation price (the other positions at their latest price), the position is
 *   closed there (at the open on a gap) by a LIQUIDATION order with client id `autoclose-…`, paying
 *   the liquidation fee; the account's other positions follow while margin stays at or below
 *   maintenance.
 * - ISOLATED margin (per symbol, `setMarginType`): the position's isolated wallet is the initial
 *   margin of what it opened (notional / leverage at the fill price), released in proportion as it
 *   is reduced, plus its funding; it is liquidated alone at `isolatedLiquidationPrice` and loses at
 *   most that wallet (a gap beyond it is not charged to the cross wallet). Cross margin, available
 *   balance and cross liquidation see only the cross positions and the cross wallet
 *   (wallet balance − isolated wallets).
 */

export type { OrderRequest, OrderType, Rejection, Side, TimeInForce } from './order-request.ts';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';
export type ExecType = 'NEW' | 'CANCELED' | 'EXPIRED' | 'TRADE' | 'CALCULATED';

export const ORDER_TYPES: readonly OrderType[] = [
  'LIMIT',
  'MARKET',
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
];
const ALGO_TYPES = new Set<OrderType>([
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
]);

export interface SimOrder {
  orderId: number;
  account: string;
  symbol: string;
  clientOrderId: string;
  side: Side;
  type: OrderType;
  origType: OrderType;
  timeInForce: TimeInForce;
  price: number;
  stopPrice: number;
  origQty: number;
  executedQty: number;
  cumQuote: number;
  avgPrice: number;
  reduceOnly: boolean;
  closePosition: boolean;
  workingType: 'MARK_PRICE' | 'CONTRACT_PRICE';
  priceProtect: boolean;
  activatePrice?: number;
  priceRate?: number;
  status: OrderStatus;
  time: number;
  updateTime: number;
  /** a STOP/TAKE_PROFIT that has triggered and now rests as a limit */
  triggered: boolean;
  /** trailing: best price since placement (highest for SELL, lowest for BUY) */
  extreme: number;
  activated: boolean;
  /** a MARKET order whose fill the caller deferred (fault injection) */
  pending: boolean;
}

export interface Position {
  symbol: string;
  /** signed: > 0 long, < 0 short */
  amount: number;
  entryPrice: number;
  updateTime: number;
  /** ISOLATED only: the margin assigned to the position (0 for cross) */
  isolatedWallet: number;
}

export type MarginType = 'CROSSED' | 'ISOLATED';

export interface SimFill {
  id: number;
  orderId: number;
  account: string;
  symbol: string;
  side: Side;
  price: number;
  qty: number;
  quoteQty: number;
  commission: number;
  commissionAsset: 'USDT';
  realizedPnl: number;
  maker: boolean;
  time: number;
}

export interface AccountState {
  id: string;
  balance: number;
  positions: Map<string, Position>;
  leverage: Map<string, number>;
  /** per symbol; absent = CROSSED */
  marginType: Map<string, MarginType>;
  orders: Map<number, SimOrder>;
  /** open client order ids → order id */
  openClientIds: Map<string, number>;
  fills: SimFill[];
  /** accumulated realised PnL per symbol */
  realized: Map<string, number>;
  fundingPaid: number;
}

export interface EngineConfig {
  filters: ReadonlyMap<string, SymbolFilters>;
  takerFee: number;
  makerFee: number;
  slippageBps: number;
  initialBalance: number;
  defaultLeverage: number;
  maxNumOrders: number;
  maxNumAlgoOrders: number;
  /** leverage brackets (default: the shipped table); symbols without one are never liquidated */
  brackets?: BracketTable;
  /** liquidation fee rate on the liquidated notional (default 0.025, Aster's exchangeInfo liquidationFee) */
  liquidationFee?: number;
  /** the liquidity model (pipelines/liquidity); absent = unlimited depth, fills whole at one price */
  liquidity?: LiquidityParams;
}

export interface Engine {
  cfg: EngineConfig;
  accounts: Map<string, AccountState>;
  /** latest price per symbol (close of the last replayed bar) */
  last: Map<string, number>;
  /** open orders per symbol, in placement order */
  open: Map<string, Map<number, SimOrder>>;
  /** traded volume of the last replayed bar per symbol: the modelled book depth */
  volume: Map<string, number>;
  nextOrderId: number;
  nextTradeId: number;
}

export type EngineEvent =
  | { kind: 'order'; account: string; order: SimOrder; execType: ExecType; fill?: SimFill; time: number }
  | { kind: 'account'; account: string; reason: 'ORDER' | 'FUNDING_FEE'; symbols: string[]; time: number }
  | { kind: 'trade'; symbol: string; price: number; qty: number; buyerIsMaker: boolean; tradeId: number; time: number };

export type PlaceResult = { ok: true; order: SimOrder; events: EngineEvent[] } | Rejection;

const CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;

export function createEngine(cfg: EngineConfig): Engine {
  return {
    cfg: { ...cfg, brackets: cfg.brackets ?? leverageBrackets() },
    accounts: new Map(),
    last: new Map(),
    open: new Map(),
    volume: new Map(),
    nextOrderId: 1,
    nextTradeId: 1,
  };
}

function bracketTable(engine: Engine): BracketTable {
  return engine.cfg.brackets ?? leverageBrackets();
}

export function isIsolated(account: AccountState, symbol: string): boolean {
  return account.marginType.get(symbol) === 'ISOLATED';
}

/** The cross wallet: the wallet balance less what isolated positions hold. */
export function crossWallet(account: AccountState): number {
  let iso = 0;
  for (const p of account.positions.values()) if (p.amount !== 0) iso += p.isolatedWallet;
  return account.balance - iso;
}

/** The account's cross positions (with brackets) at the latest prices, for the margin kernel. */
function marginPositions(engine: Engine, account: AccountState): MarginPosition[] {
  const out: MarginPosition[] = [];
  const table = bracketTable(engine);
  for (const p of account.positions.values()) {
    if (p.amount === 0 || !table.has(p.symbol) || isIsolated(account, p.symbol)) continue;
    out.push({ symbol: p.symbol, qty: p.amount, entry: p.entryPrice, mark: engine.last.get(p.symbol) ?? p.entryPrice });
  }
  return out;
}

/** Cross wallet, cross margin balance, initial and maintenance margin of the cross positions at the latest prices. */
export function marginOf(engine: Engine, account: AccountState): ReturnType<typeof accountMargin> {
  return accountMargin(crossWallet(account), marginPositions(engine, account), bracketTable(engine), (s) =>
    leverageOf(engine, account, s),
  );
}

/** The maintenance margin of one position at the latest price (0 without brackets). */
export function positionMaintenance(engine: Engine, p: Position): number {
  const b = bracketTable(engine).get(p.symbol);
  return b === undefined ? 0 : maintenanceMargin(b, Math.abs(p.amount) * (engine.last.get(p.symbol) ?? p.entryPrice));
}

/** The liquidation price of the account's `symbol` position (0: none): isolated alone, else cross. */
export function liquidationPriceOf(engine: Engine, account: AccountState, symbol: string): number {
  const table = bracketTable(engine);
  const brackets = table.get(symbol);
  if (brackets === undefined) return 0;
  if (isIsolated(account, symbol)) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) return 0;
    return isolatedLiquidationPrice(p.isolatedWallet, { qty: p.amount, entry: p.entryPrice }, brackets);
  }
  return marginLiquidationPrice(crossWallet(account), marginPositions(engine, account), symbol, table);
}

export function accountOf(engine: Engine, id: string): AccountState {
  let a = engine.accounts.get(id);
  if (!a) {
    a = {
      id,
      balance: engine.cfg.initialBalance,
      positions: new Map(),
      leverage: new Map(),
      marginType: new Map(),
      orders: new Map(),
      openClientIds: new Map(),
      fills: [],
      realized: new Map(),
      fundingPaid: 0,
    };
    engine.accounts.set(id, a);
  }
  return a;
}

export function leverageOf(engine: Engine, account: AccountState, symbol: string): number {
  return account.leverage.get(symbol) ?? engine.cfg.defaultLeverage;
}

export function positionOf(account: AccountState, symbol: string): Position {
  let p = account.positions.get(symbol);
  if (!p) {
    p = { symbol, amount: 0, entryPrice: 0, updateTime: 0, isolatedWallet: 0 };
    account.positions.set(symbol, p);
  }
  return p;
}

/** Unrealised PnL of a position at the latest price. */
export function unrealised(engine: Engine, p: Position): number {
  const last = engine.last.get(p.symbol);
  return last === undefined || p.amount === 0 ? 0 : p.amount * (last - p.entryPrice);
}

/** Cross wallet + cross unrealised − initial margin of cross positions and open orders (isolated margin is in its wallets). */
export function availableBalance(engine: Engine, account: AccountState): number {
  let upnl = 0;
  let used = 0;
  for (const p of account.positions.values()) {
    if (p.amount === 0 || isIsolated(account, p.symbol)) continue;
    upnl += unrealised(engine, p);
    used += (Math.abs(p.amount) * (engine.last.get(p.symbol) ?? p.entryPrice)) / leverageOf(engine, account, p.symbol);
  }
  return crossWallet(account) + upnl - used - openOrderMargin(engine, account);
}

export function openOrderMargin(engine: Engine, account: AccountState): number {
  let m = 0;
  for (const book of engine.open.values())
    for (const o of book.values()) {
      if (o.account !== account.id || o.reduceOnly || o.closePosition) continue;
      const px = o.price > 0 ? o.price : (engine.last.get(o.symbol) ?? 0);
      m += ((o.origQty - o.executedQty) * px) / leverageOf(engine, account, o.symbol);
    }
  return m;
}

function countOpen(engine: Engine, account: string, symbol: string): { plain: number; algo: number } {
  let plain = 0;
  let algo = 0;
  for (const o of engine.open.get(symbol)?.values() ?? []) {
    if (o.account !== account) continue;
    if (ALGO_TYPES.has(o.origType)) algo++;
    else plain++;
  }
  return { plain, algo };
}

/** rules that depend on the account: client id, open-order limits, min notional, reduce-only, margin */
function checkAccountRules(
  engine: Engine,
  account: AccountState,
  req: OrderRequest,
  amounts: OrderAmounts,
  clientOrderId: string,
  last: number,
): Rejection | undefined {
  const f = engine.cfg.filters.get(req.symbol)!;
  const t = req.type;
  const { qty, price, stopPrice } = amounts;
  const reduceOnly = req.reduceOnly === true;
  const closePosition = req.closePosition === true;
  // client order id
  if (!CLIENT_ID.test(clientOrderId)) return reject(-4015, 'Client order id is not valid.');
  if (account.openClientIds.has(clientOrderId)) return reject(-4116, 'ClientOrderId is duplicated.');

  // limits on open orders
  const counts = countOpen(engine, account.id, req.symbol);
  if (ALGO_TYPES.has(t) && counts.algo >= engine.cfg.maxNumAlgoOrders)
    return reject(-4045, 'Reach max stop order limit.');
  if (!ALGO_TYPES.has(t) && counts.plain >= engine.cfg.maxNumOrders)
    return reject(-2025, 'Reach max open order limit.');

  // min notional (reduce-only and close-position orders are exempt)
  const refPrice = price > 0 ? price : stopPrice > 0 ? stopPrice : last;
  if (!reduceOnly && !closePosition && f.minNotional > 0 && qty * refPrice < f.minNotional - 1e-9)
    return reject(
      -4164,
      `Order's notional must be no smaller than ${f.minNotional.toFixed(1)} (unless you choose reduce only)`,
    );

  const pos = positionOf(account, req.symbol);
  const dir = req.side === 'BUY' ? 1 : -1;
  // a reduce-only MARKET/LIMIT that cannot reduce is refused now; conditional ones are checked when they trigger
  if (reduceOnly && (t === 'MARKET' || t === 'LIMIT') && !(pos.amount * dir < 0))
    return reject(-2022, 'ReduceOnly Order is rejected.');

  // margin: only the part that opens or adds exposure needs margin
  if (!reduceOnly && !closePosition) {
    const opening = pos.amount * dir >= 0 ? qty : Math.max(0, qty - Math.abs(pos.amount));
    const need = (opening * refPrice) / leverageOf(engine, account, req.symbol);
    // the brackets cap the position a leverage may hold (Binance/Aster -2027)
    const brackets = bracketTable(engine).get(req.symbol);
    const after = Math.abs(pos.amount + dir * qty) * refPrice;
    if (opening > 0 && brackets !== undefined && after > maxNotional(brackets, leverageOf(engine, account, req.symbol)))
      return reject(-2027, 'Exceeded the maximum allowable position at current leverage.');
    if (opening > 0 && need > availableBalance(engine, account) + 1e-9) return reject(-2019, 'Margin is insufficient.');
  }

  return undefined;
}

/**
 * Validates and places an order. MARKET orders and marketable LIMIT orders fill at once unless
 * `deferFill` is set (then the order stays NEW until `fillAtMarket`).
 */
export function placeOrder(
  engine: Engine,
  accountId: string,
  req: OrderRequest,
  time: number,
  opts: { deferFill?: boolean } = {},
): PlaceResult {
  const f = engine.cfg.filters.get(req.symbol);
  const last = engine.last.get(req.symbol);
  if (!f || last === undefined) return reject(-1121, 'Invalid symbol.');
  if (req.side !== 'BUY' && req.side !== 'SELL') return reject(-1117, 'Invalid side.');
  if (!ORDER_TYPES.includes(req.type)) return reject(-1116, 'Invalid orderType.');
  const account = accountOf(engine, accountId);
  const t = req.type;
  const closePosition = req.closePosition === true;
  const reduceOnly = req.reduceOnly === true;
  const tif: TimeInForce = req.timeInForce ?? 'GTC';
  if (!['GTC', 'IOC', 'FOK', 'GTX'].includes(tif)) return reject(-1115, 'Invalid timeInForce.');
  if (t === 'LIMIT' && req.timeInForce === undefined)
    return reject(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");

  if (closePosition) {
    if (t !== 'STOP_MARKET' && t !== 'TAKE_PROFIT_MARKET')
      return reject(-4136, 'Target strategy invalid for orderType ' + t + ',closePosition true');
    if (req.quantity !== undefined) return reject(-1106, "Parameter 'quantity' sent when not required.");
    if (reduceOnly) return reject(-1106, "Parameter 'reduceOnly' sent when not required.");
  }

  const amounts = checkAmounts(f, req, last);
  if (isRej(amounts)) return amounts;
  const { qty, price, stopPrice, activatePrice, priceRate } = amounts;

  const clientOrderId = req.clientOrderId ?? `sim_${engine.nextOrderId}`;
  const refused = checkAccountRules(engine, account, req, amounts, clientOrderId, last);
  if (refused) return refused;

  // post-only that would take
  const marketable = t === 'LIMIT' && (req.side === 'BUY' ? price >= last : price <= last);
  if (t === 'LIMIT' && tif === 'GTX' && marketable)
    return reject(-5022, 'Due to the order could not be executed as maker, the Post Only order will be rejected.');

  const order: SimOrder = {
    orderId: engine.nextOrderId++,
    account: accountId,
    symbol: req.symbol,
    clientOrderId,
    side: req.side,
    type: t,
    origType: t,
    timeInForce: tif,
    price,
    stopPrice,
    origQty: qty,
    executedQty: 0,
    cumQuote: 0,
    avgPrice: 0,
    reduceOnly,
    closePosition,
    workingType: req.workingType ?? 'CONTRACT_PRICE',
    priceProtect: req.priceProtect === true,
    status: 'NEW',
    time,
    updateTime: time,
    triggered: false,
    extreme: last,
    activated: t === 'TRAILING_STOP_MARKET' && activatePrice === undefined,
    pending: false,
    ...(activatePrice !== undefined ? { activatePrice } : t === 'TRAILING_STOP_MARKET' ? { activatePrice: last } : {}),
    ...(priceRate !== undefined ? { priceRate } : {}),
  };
  account.orders.set(order.orderId, order);
  const events: EngineEvent[] = [];

  if (t === 'LIMIT' && !marketable && (tif === 'IOC' || tif === 'FOK')) {
    // nothing to take: accepted and expired at once, as the exchange does
    events.push(snapshot(order, 'NEW', time));
    order.status = 'EXPIRED';
    events.push(snapshot(order, 'EXPIRED', time));
    return { ok: true, order, events };
  }

  addOpen(engine, account, order);
  events.push(snapshot(order, 'NEW', time));
  if (t === 'MARKET' || marketable) {
    if (opts.deferFill) order.pending = true;
    else if (t === 'MARKET') {
      const qty = remainingFor(order, account);
      fillOrder(engine, order, qty, takerPrice(engine, f, order, last, qty), false, time, events);
    } else takeAsLimit(engine, f, order, account, last, time, events);
  }
  return { ok: true, order, events };
}

/** A marketable limit takes at the latest price with slippage and impact, never beyond its limit. */
function limitTake(engine: Engine, f: SymbolFilters, o: SimOrder, last: number, qty: number): number {
  const px = takerPrice(engine, f, o, last, qty);
  return o.side === 'BUY' ? Math.min(px, o.price) : Math.max(px, o.price);
}

/** modelled depth per level of the symbol's book (Infinity: no model, or no bar seen yet) */
function levelQty(engine: Engine, f: SymbolFilters, symbol: string): number {
  const model = engine.cfg.liquidity;
  const volume = engine.volume.get(symbol);
  return model === undefined || volume === undefined ? Infinity : levelQuantity(model, volume, f.minQty);
}

/** slippage-touch, then `qty` walking the modelled levels, rounded to the tick against the taker */
function takerPrice(
  engine: Engine,
  f: SymbolFilters,
  o: { side: Side; symbol: string },
  px: number,
  qty: number,
): number {
  const bps = engine.cfg.slippageBps / 10_000;
  const touch = o.side === 'BUY' ? px * (1 + bps) : px * (1 - bps);
  const model = engine.cfg.liquidity;
  const avg = model === undefined ? touch : walkPrice(model, touch, o.side, qty, levelQty(engine, f, o.symbol));
  return o.side === 'BUY' ? roundToTick(avg, f.tickSize, 'up') : roundToTick(avg, f.tickSize, 'down');
}

/**
 * A marketable LIMIT takes what the modelled levels hold up to its price: FOK all or nothing (else
 * EXPIRED), IOC what it can (the rest EXPIRED), GTC what it can (the rest rests on the book).
 */
function takeAsLimit(
  engine: Engine,
  f: SymbolFilters,
  o: SimOrder,
  account: AccountState,
  last: number,
  time: number,
  events: EngineEvent[],
): void {
  const want = remainingFor(o, account);
  const model = engine.cfg.liquidity;
  const bps = engine.cfg.slippageBps / 10_000;
  const touch = o.side === 'BUY' ? last * (1 + bps) : last * (1 - bps);
  const room =
    model === undefined ? Infinity : quantityWithin(model, touch, o.side, o.price, levelQty(engine, f, o.symbol));
  const step = f.stepSize > 0 ? f.stepSize : 1e-8;
  const qty = room >= want ? want : qtyClean(Math.floor(room / step + 1e-9) * step);
  if (qty < want && (o.timeInForce === 'FOK' || qty <= 0)) {
    if (o.timeInForce === 'GTC') return; // nothing within the limit now: it rests
    o.status = 'EXPIRED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
    return;
  }
  fillOrder(engine, o, qty, limitTake(engine, f, o, last, qty), false, time, events);
  if (o.timeInForce === 'IOC' && o.status === 'PARTIALLY_FILLED') {
    o.status = 'EXPIRED';
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
  }
}

function addOpen(engine: Engine, account: AccountState, o: SimOrder): void {
  let book = engine.open.get(o.symbol);
  if (!book) engine.open.set(o.symbol, (book = new Map()));
  book.set(o.orderId, o);
  account.openClientIds.set(o.clientOrderId, o.orderId);
}

function removeOpen(engine: Engine, o: SimOrder): void {
  engine.open.get(o.symbol)?.delete(o.orderId);
  const a = engine.accounts.get(o.account);
  if (a && a.openClientIds.get(o.clientOrderId) === o.orderId) a.openClientIds.delete(o.clientOrderId);
}

function snapshot(o: SimOrder, execType: ExecType, time: number, fill?: SimFill): EngineEvent {
  return { kind: 'order', account: o.account, order: { ...o }, execType, time, ...(fill ? { fill } : {}) };
}

/** Quantity this order may still fill, given reduce-only / close-position rules. */
function remainingFor(o: SimOrder, account: AccountState): number {
  const pos = account.positions.get(o.symbol)?.amount ?? 0;
  const dir = o.side === 'BUY' ? 1 : -1;
  if (o.closePosition) return pos * dir < 0 ? Math.abs(pos) : 0;
  const rest = qtyClean(o.origQty - o.executedQty);
  if (o.reduceOnly) return pos * dir < 0 ? Math.min(rest, Math.abs(pos)) : 0;
  return rest;
}

/** Applies one fill: fees, position, realised PnL, order state; pushes order + account + trade events. */
function fillOrder(
  engine: Engine,
  o: SimOrder,
  qtyIn: number,
  price: number,
  maker: boolean,
  time: number,
  events: EngineEvent[],
  commissionOverride?: number,
): void {
  const account = accountOf(engine, o.account);
  const qty = qtyClean(qtyIn);
  if (!(qty > 0)) {
    // reduce-only / close-position with nothing to reduce
    o.status = 'EXPIRED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'EXPIRED', time));
    return;
  }
  const pos = positionOf(account, o.symbol);
  const dir = o.side === 'BUY' ? 1 : -1;
  const before = pos.amount;
  let realized = 0;
  if (pos.amount === 0 || Math.sign(pos.amount) === dir) {
    const newAbs = Math.abs(pos.amount) + qty;
    pos.entryPrice = (Math.abs(pos.amount) * pos.entryPrice + qty * price) / newAbs;
    pos.amount = qtyClean(pos.amount + dir * qty);
  } else {
    const closing = Math.min(qty, Math.abs(pos.amount));
    realized = closing * (price - pos.entryPrice) * Math.sign(pos.amount);
    const rest = qtyClean(qty - closing);
    pos.amount = qtyClean(pos.amount + dir * closing);
    if (pos.amount === 0) pos.entryPrice = 0;
    if (rest > 0) {
      pos.amount = qtyClean(dir * rest);
      pos.entryPrice = price;
    }
  }
  pos.updateTime = time;
  if (isIsolated(account, o.symbol))
    moveIsolatedWallet(pos, before, qty, dir, price, leverageOf(engine, account, o.symbol));
  const quote = qty * price;
  const commission = commissionOverride ?? quote * (maker ? engine.cfg.makerFee : engine.cfg.takerFee);
  account.balance += realized - commission;
  const fill: SimFill = {
    id: engine.nextTradeId++,
    orderId: o.orderId,
    account: o.account,
    symbol: o.symbol,
    side: o.side,
    price,
    qty,
    quoteQty: quote,
    commission,
    commissionAsset: 'USDT',
    realizedPnl: realized,
    maker,
    time,
  };
  account.fills.push(fill);
  if (realized !== 0) account.realized.set(o.symbol, (account.realized.get(o.symbol) ?? 0) + realized);
  if (o.closePosition && o.origQty === 0) o.origQty = qty;
  o.executedQty = qtyClean(o.executedQty + qty);
  o.cumQuote += quote;
  o.avgPrice = o.cumQuote / o.executedQty;
  o.updateTime = time;
  const done = o.closePosition || o.executedQty >= o.origQty - 1e-12 || (o.reduceOnly && pos.amount === 0);
  o.status = done ? 'FILLED' : 'PARTIALLY_FILLED';
  if (done) removeOpen(engine, o);
  events.push(snapshot(o, 'TRADE', time, fill));
  events.push({ kind: 'account', account: o.account, reason: 'ORDER', symbols: [o.symbol], time });
  events.push({ kind: 'trade', symbol: o.symbol, price, qty, buyerIsMaker: o.side === 'SELL', tradeId: fill.id, time });
}

/**
 * An isolated position's wallet after a fill of `qty` (direction `dir`) at `price`: what it opens
 * adds its initial margin; what it closes releases that share of the wallet to the cross wallet.
 */
function moveIsolatedWallet(pos: Position, before: number, qty: number, dir: 1 | -1, price: number, lev: number): void {
  if (before === 0 || Math.sign(before) === dir) {
    pos.isolatedWallet += (qty * price) / lev;
    return;
  }
  const closing = Math.min(qty, Math.abs(before));
  pos.isolatedWallet *= (Math.abs(before) - closing) / Math.abs(before);
  const opened = qty - closing;
  if (opened > 0) pos.isolatedWallet += (opened * price) / lev;
  if (pos.amount === 0) pos.isolatedWallet = 0;
}

/**
 * Fills a deferred or partially filled MARKET order (fault injection): `fraction` of what remains,
 * at the latest price with slippage. Returns no events if the order is no longer open.
 */
export function fillAtMarket(engine: Engine, orderId: number, fraction: number, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const book of engine.open.values()) {
    const o = book.get(orderId);
    if (!o) continue;
    const f = engine.cfg.filters.get(o.symbol)!;
    const account = accountOf(engine, o.account);
    const rest = remainingFor(o, account);
    const step = f.marketStepSize > 0 ? f.marketStepSize : f.stepSize;
    let qty = fraction >= 1 ? rest : Math.floor((rest * fraction) / step + 1e-9) * step;
    if (qty <= 0 && rest > 0) qty = rest;
    o.pending = false;
    const px =
      o.type === 'LIMIT'
        ? limitTake(engine, f, o, engine.last.get(o.symbol)!, qty)
        : takerPrice(engine, f, o, engine.last.get(o.symbol)!, qty);
    fillOrder(engine, o, qty, px, false, time, events);
    if (o.status === 'PARTIALLY_FILLED') o.pending = true;
    return events;
  }
  return events;
}

export type CancelResult = { ok: true; order: SimOrder; events: EngineEvent[] } | Rejection;

export function findOrder(
  engine: Engine,
  accountId: string,
  symbol: string,
  orderId?: number,
  clientOrderId?: string,
): SimOrder | undefined {
  const account = engine.accounts.get(accountId);
  if (!account) return undefined;
  if (orderId !== undefined) {
    const o = account.orders.get(orderId);
    return o && o.symbol === symbol ? o : undefined;
  }
  if (clientOrderId !== undefined) {
    const open = account.openClientIds.get(clientOrderId);
    if (open !== undefined) return account.orders.get(open);
    // the most recent order with this client id
    let found: SimOrder | undefined;
    for (const o of account.orders.values()) if (o.clientOrderId === clientOrderId && o.symbol === symbol) found = o;
    return found;
  }
  return undefined;
}

export function cancelOrder(
  engine: Engine,
  accountId: string,
  symbol: string,
  orderId: number | undefined,
  clientOrderId: string | undefined,
  time: number,
): CancelResult {
  const o = findOrder(engine, accountId, symbol, orderId, clientOrderId);
  if (!o) return reject(-2011, 'Unknown order sent.');
  if (o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED') return reject(-2011, 'Unknown order sent.');
  o.status = 'CANCELED';
  o.updateTime = time;
  removeOpen(engine, o);
  return { ok: true, order: o, events: [snapshot(o, 'CANCELED', time)] };
}

export function cancelAll(engine: Engine, accountId: string, symbol: string, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const o of [...(engine.open.get(symbol)?.values() ?? [])]) {
    if (o.account !== accountId) continue;
    o.status = 'CANCELED';
    o.updateTime = time;
    removeOpen(engine, o);
    events.push(snapshot(o, 'CANCELED', time));
  }
  return events;
}

export function openOrders(engine: Engine, accountId: string, symbol?: string): SimOrder[] {
  const out: SimOrder[] = [];
  for (const [s, book] of engine.open)
    if (symbol === undefined || s === symbol) for (const o of book.values()) if (o.account === accountId) out.push(o);
  return out;
}

export interface BarPrices {
  open: number;
  high: number;
  low: number;
  close: number;
  /** traded volume (base asset): the queue a resting limit fills from and the next bar's book depth */
  volume?: number;
}

/** the bar being walked, and the resting orders that already took their queue share of it */
interface BarWalk {
  bar: BarPrices;
  queued: Set<number>;
}

/** The order in which a bar's prices are visited (see the module comment). */
export function barPath(bar: BarPrices): number[] {
  return bar.close >= bar.open ? [bar.open, bar.low, bar.high, bar.close] : [bar.open, bar.high, bar.low, bar.close];
}

/**
 * Replays one bar of `symbol`: walks its path, triggers and fills resting orders, then sets the
 * latest price to the close. The first bar of a symbol only sets the price.
 */
export function onBar(engine: Engine, symbol: string, bar: BarPrices, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  const prev = engine.last.get(symbol);
  const path = barPath(bar);
  const walk: BarWalk = { bar, queued: new Set() };
  if (prev !== undefined) {
    let a = prev;
    for (let i = 0; i < path.length; i++) {
      const b = path[i]!;
      const gap = i === 0;
      if (gap) {
        // orders gapped through fill at the open first; a position still beyond its liquidation
        // price at the open is liquidated there
        walkSegment(engine, symbol, a, b, true, time, events, walk);
        engine.last.set(symbol, b);
        liquidateCrossed(engine, symbol, b, time, events);
      } else {
        // the segment is walked up to each liquidation price it reaches, which fills there
        let from = a;
        for (let guard = 0; guard < 8; guard++) {
          const at = firstLiquidation(engine, symbol, from, b);
          if (at === undefined) break;
          walkSegment(engine, symbol, from, at, false, time, events, walk);
          engine.last.set(symbol, at);
          liquidateCrossed(engine, symbol, at, time, events);
          from = at;
        }
        walkSegment(engine, symbol, from, b, false, time, events, walk);
      }
      engine.last.set(symbol, b);
      a = b;
    }
  }
  engine.last.set(symbol, bar.close);
  if (bar.volume !== undefined) engine.volume.set(symbol, bar.volume);
  return events;
}

/** Is `price` reached when the price moves a → b (b inclusive, a exclusive unless a === b)? */
function reached(a: number, b: number, price: number): boolean {
  return a === b ? price === b : a > b ? price >= b && price < a : price <= b && price > a;
}

/** The liquidation price of `symbol` nearest to `a` that the move a → b reaches, over all accounts. */
function firstLiquidation(engine: Engine, symbol: string, a: number, b: number): number | undefined {
  let best: number | undefined;
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const liq = liquidationPriceOf(engine, account, symbol);
    if (!(liq > 0)) continue;
    // a long is liquidated on the way down, a short on the way up
    if (p.amount > 0 ? !(b < a) : !(b > a)) continue;
    if (!reached(a, b, liq)) continue;
    if (best === undefined || Math.abs(liq - a) < Math.abs(best - a)) best = liq;
  }
  return best;
}

/**
 * Liquidates every account whose `symbol` position is at or beyond its liquidation price with the
 * latest price at `at`: that position at `at`, then, cross margin, the account's other positions at
 * their latest prices while it stays at or below maintenance.
 */
function liquidateCrossed(engine: Engine, symbol: string, at: number, time: number, events: EngineEvent[]): void {
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const liq = liquidationPriceOf(engine, account, symbol);
    if (!(liq > 0) || (p.amount > 0 ? at > liq : at < liq)) continue;
    liquidatePosition(engine, account, symbol, at, time, events);
    // an isolated position goes alone; a cross one takes the other cross positions while needed
    if (isIsolated(account, symbol)) continue;
    for (const other of [...account.positions.values()]) {
      if (other.amount === 0 || other.symbol === symbol || isIsolated(account, other.symbol)) continue;
      if (!isLiquidatable(marginOf(engine, account))) break;
      liquidatePosition(engine, account, other.symbol, engine.last.get(other.symbol) ?? other.entryPrice, time, events);
    }
  }
}

/** Closes one position by a LIQUIDATION order: open orders on the symbol are cancelled first. */
function liquidatePosition(
  engine: Engine,
  account: AccountState,
  symbol: string,
  price: number,
  time: number,
  events: EngineEvent[],
): void {
  const p = account.positions.get(symbol);
  if (!p || p.amount === 0) return;
  events.push(...cancelAll(engine, account.id, symbol, time));
  const qty = Math.abs(p.amount);
  // margin balance left once this position is closed at `price`: what the fee may take (isolated:
  // its own wallet; below zero on a gap, and that shortfall is not the cross wallet's to pay)
  const isolated = isIsolated(account, symbol);
  const after = isolated
    ? p.isolatedWallet + p.amount * (price - p.entryPrice)
    : marginOf(engine, account).marginBalance + p.amount * (price - (engine.last.get(symbol) ?? price));
  const order: SimOrder = {
    orderId: engine.nextOrderId++,
    account: account.id,
    symbol,
    clientOrderId: `autoclose-${time}-${engine.nextOrderId}`,
    side: p.amount > 0 ? 'SELL' : 'BUY',
    type: 'LIQUIDATION',
    origType: 'LIQUIDATION',
    timeInForce: 'IOC',
    price,
    stopPrice: 0,
    origQty: qty,
    executedQty: 0,
    cumQuote: 0,
    avgPrice: 0,
    reduceOnly: true,
    closePosition: false,
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    status: 'NEW',
    time,
    updateTime: time,
    triggered: false,
    extreme: price,
    activated: false,
    pending: false,
  };
  account.orders.set(order.orderId, order);
  const fee = liquidationFee(qty * price, engine.cfg.liquidationFee ?? 0.025, after);
  fillOrder(engine, order, qty, price, false, time, events, fee);
  if (isolated && after < 0) account.balance -= after;
}

function walkSegment(
  engine: Engine,
  symbol: string,
  a: number,
  b: number,
  gap: boolean,
  time: number,
  events: EngineEvent[],
  walk: BarWalk,
): void {
  const book = engine.open.get(symbol);
  if (!book || book.size === 0) return;
  const f = engine.cfg.filters.get(symbol)!;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  for (const o of [...book.values()]) {
    if (o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED') continue;
    if (o.pending) continue;
    const account = accountOf(engine, o.account);
    const buy = o.side === 'BUY';
    const isLimitNow = o.type === 'LIMIT' || ((o.type === 'STOP' || o.type === 'TAKE_PROFIT') && o.triggered);
    if (isLimitNow) {
      if ((buy ? lo <= o.price : hi >= o.price) && !walk.queued.has(o.orderId)) {
        const px = gap ? b : buy ? Math.min(o.price, a) : Math.max(o.price, a);
        const qty = queuedQuantity(engine, f, o, account, walk.bar);
        walk.queued.add(o.orderId);
        // nothing left to reduce expires it (fillOrder); a zero queue share just waits for the next bar
        if (qty > 0 || remainingFor(o, account) <= 0) fillOrder(engine, o, qty, px, true, time, events);
      }
      continue;
    }
    if (o.type === 'TRAILING_STOP_MARKET') {
      trailing(engine, f, o, account, a, b, gap, time, events);
      continue;
    }
    const isStop = o.type === 'STOP' || o.type === 'STOP_MARKET';
    const fires = buy
      ? isStop
        ? hi >= o.stopPrice
        : lo <= o.stopPrice
      : isStop
        ? lo <= o.stopPrice
        : hi >= o.stopPrice;
    if (!fires) continue;
    // the price at which the trigger is crossed: the stop itself, or the open on a gap / a start beyond it
    const crossed = buy === isStop ? a >= o.stopPrice : a <= o.stopPrice;
    const trigPx = gap || crossed ? (gap ? b : a) : o.stopPrice;
    if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
      fillOrder(
        engine,
        o,
        remainingFor(o, account),
        takerPrice(engine, f, o, trigPx, remainingFor(o, account)),
        false,
        time,
        events,
      );
    } else {
      o.triggered = true;
      o.updateTime = time;
      // a triggered stop-limit that is marketable at the trigger price takes at once
      if (buy ? o.price >= trigPx : o.price <= trigPx) {
        const px = buy
          ? Math.min(o.price, takerPrice(engine, f, o, trigPx, remainingFor(o, account)))
          : Math.max(o.price, takerPrice(engine, f, o, trigPx, remainingFor(o, account)));
        fillOrder(engine, o, remainingFor(o, account), px, false, time, events);
      } else if (buy ? Math.min(trigPx, b) <= o.price : Math.max(trigPx, b) >= o.price) {
        fillOrder(engine, o, remainingFor(o, account), o.price, true, time, events);
      }
    }
  }
}

/** what a resting limit reached in this bar fills: its queue share (liquidity kernel), on the step grid */
function queuedQuantity(engine: Engine, f: SymbolFilters, o: SimOrder, account: AccountState, bar: BarPrices): number {
  const rest = remainingFor(o, account);
  const model = engine.cfg.liquidity;
  if (model === undefined || bar.volume === undefined || rest <= 0) return rest;
  const tick = f.tickSize > 0 ? f.tickSize : 1e-8;
  const share = restingFillQuantity(model, o.side, o.price, { ...bar, volume: bar.volume }, tick);
  if (share >= rest) return rest;
  const step = f.stepSize > 0 ? f.stepSize : 1e-8;
  return qtyClean(Math.floor(share / step + 1e-9) * step);
}

function trailing(
  engine: Engine,
  f: SymbolFilters,
  o: SimOrder,
  account: AccountState,
  a: number,
  b: number,
  gap: boolean,
  time: number,
  events: EngineEvent[],
): void {
  const rate = (o.priceRate ?? 1) / 100;
  const act = o.activatePrice ?? a;
  if (o.side === 'SELL') {
    // falling part first (a → b when b < a): may fire against the highest seen so far
    if (b < a && o.activated) {
      const stop = o.extreme * (1 - rate);
      if (b <= stop) {
        const trig = gap || a <= stop ? (gap ? b : a) : stop;
        fillOrder(
          engine,
          o,
          remainingFor(o, account),
          takerPrice(engine, f, o, trig, remainingFor(o, account)),
          false,
          time,
          events,
        );
        return;
      }
    }
    if (b > o.extreme) o.extreme = b;
    if (!o.activated && o.extreme >= act) o.activated = true;
  } else {
    if (b > a && o.activated) {
      const stop = o.extreme * (1 + rate);
      if (b >= stop) {
        const trig = gap || a >= stop ? (gap ? b : a) : stop;
        fillOrder(
          engine,
          o,
          remainingFor(o, account),
          takerPrice(engine, f, o, trig, remainingFor(o, account)),
          false,
          time,
          events,
        );
        return;
      }
    }
    if (b < o.extreme) o.extreme = b;
    if (!o.activated && o.extreme <= act) o.activated = true;
  }
}

/** Funding at `mark`: longs pay `rate × notional` when the rate is positive, shorts receive it. */
export function applyFunding(engine: Engine, symbol: string, rate: number, mark: number, time: number): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const account of engine.accounts.values()) {
    const p = account.positions.get(symbol);
    if (!p || p.amount === 0) continue;
    const payment = -p.amount * mark * rate;
    account.balance += payment;
    // an isolated position pays and receives funding through its own wallet
    if (isIsolated(account, symbol)) p.isolatedWallet += payment;
    account.fundingPaid -= payment;
    events.push({ kind: 'account', account: account.id, reason: 'FUNDING_FEE', symbols: [symbol], time });
  }
  return events;
}

/** Sets a symbol's leverage (1–125). */
export function setLeverage(
  engine: Engine,
  accountId: string,
  symbol: string,
  leverage: number,
): Rejection | undefined {
  if (!engine.cfg.filters.has(symbol)) return reject(-1121, 'Invalid symbol.');
  if (!Number.isInteger(leverage) || leverage < 1 || leverage > 125) return reject(-4028, 'Leverage is not valid');
  // the bracket of the position's notional sets the ceiling (Binance answers -4028 too)
  const brackets = bracketTable(engine).get(symbol);
  const account = accountOf(engine, accountId);
  if (brackets !== undefined) {
    const p = account.positions.get(symbol);
    const notional = p ? Math.abs(p.amount) * (engine.last.get(symbol) ?? p.entryPrice) : 0;
    if (leverage > maxLeverage(brackets, notional)) return reject(-4028, `Leverage ${leverage} is not valid`);
  }
  account.leverage.set(symbol, leverage);
  return undefined;
}

/**
 * Sets a symbol's margin type (Binance/Aster rules: nothing to change -4046; not while the account
 * has open orders on the symbol -4047, nor a position -4048).
 */
export function setMarginType(
  engine: Engine,
  accountId: string,
  symbol: string,
  type: MarginType,
): Rejection | undefined {
  if (!engine.cfg.filters.has(symbol)) return reject(-1121, 'Invalid symbol.');
  const account = accountOf(engine, accountId);
  if ((account.marginType.get(symbol) ?? 'CROSSED') === type) return reject(-4046, 'No need to change margin type.');
  if (openOrders(engine, accountId, symbol).length > 0)
    return reject(-4047, 'Margin type cannot be changed if there exists open orders.');
  if ((account.positions.get(symbol)?.amount ?? 0) !== 0)
    return reject(-4048, 'Margin type cannot be changed if there exists position.');
  account.marginType.set(symbol, type);
  return undefined;
}
