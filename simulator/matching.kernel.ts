/**
 * The simulator's matching engine: pure bookkeeping, no I/O and no clock (time is passed in). This
 * module is its public face; the parts, one concern each, are in simulator/matching/: engine (state
 * and events), book (open orders, cancels), account (balances, positions, leverage, funding), margin
 * (cross and isolated margin, liquidation prices), fills (taker prices, applying a fill), orders
 * (placing), liquidation (closing positions the path reaches), bar-walk (replaying a bar).
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
export {
  ORDER_TYPES,
  createEngine,
  type AccountState,
  type Engine,
  type EngineConfig,
  type EngineEvent,
  type ExecType,
  type MarginType,
  type OrderStatus,
  type Position,
  type SimFill,
  type SimOrder,
} from './matching/engine.kernel.ts';
export { cancelAll, cancelOrder, findOrder, openOrders, type CancelResult } from './matching/book.kernel.ts';
export {
  accountOf,
  applyFunding,
  availableBalance,
  crossWallet,
  isIsolated,
  leverageOf,
  openOrderMargin,
  positionOf,
  setLeverage,
  setMarginType,
  unrealised,
} from './matching/account.kernel.ts';
export { liquidationPriceOf, marginOf, positionMaintenance } from './matching/margin.kernel.ts';
export { fillAtMarket, placeOrder, type PlaceResult } from './matching/orders.kernel.ts';
export { barPath, onBar, type BarPrices } from './matching/bar-walk.kernel.ts';
