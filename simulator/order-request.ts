/** What a client asks the matching engine for, and how a refusal looks (shared by the order rules and the engine). */

export type Side = 'BUY' | 'SELL';
export type OrderType =
  | 'LIMIT'
  | 'MARKET'
  | 'STOP'
  | 'STOP_MARKET'
  | 'TAKE_PROFIT'
  | 'TAKE_PROFIT_MARKET'
  | 'TRAILING_STOP_MARKET'
  /** the exchange's own close of a liquidated position (never placed by a client) */
  | 'LIQUIDATION';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTX';

export interface OrderRequest {
  symbol: string;
  side: Side;
  type: OrderType;
  timeInForce?: TimeInForce;
  /** raw decimal strings as received, for precision checks */
  quantity?: string;
  price?: string;
  stopPrice?: string;
  activationPrice?: string;
  callbackRate?: string;
  reduceOnly?: boolean;
  closePosition?: boolean;
  clientOrderId?: string;
  workingType?: 'MARK_PRICE' | 'CONTRACT_PRICE';
  priceProtect?: boolean;
}

export interface Rejection {
  ok: false;
  code: number;
  msg: string;
}
