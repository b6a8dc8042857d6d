import type { SymbolFilters } from '../../pipelines/model/index.ts';
import type { BracketTable } from '../../pipelines/margin/margin.kernel.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';
import type { LiquidityParams } from '../../pipelines/liquidity/liquidity.kernel.ts';
import type { OrderType, Side, TimeInForce } from '../order-request.ts';

/** The matching engine's state and events: orders, positions, fills, accounts, and the engine itself. */

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

export const ALGO_TYPES = new Set<OrderType>([
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

export function bracketTable(engine: Engine): BracketTable {
  return engine.cfg.brackets ?? leverageBrackets();
}
