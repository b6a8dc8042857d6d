/**
 * The few exchange calls the orchestrator needs, as a port. `aster-wallet-venue.ts` implements it
 * over the Aster REST client; tests use the exchange simulator or a loopback peer behind it.
 * Numbers are plain numbers (the adapter parses the exchange's decimal strings).
 */
export type VenueSide = 'BUY' | 'SELL';
export type VenueOrderType = 'MARKET' | 'LIMIT' | 'STOP_MARKET' | 'TAKE_PROFIT_MARKET' | 'STOP' | 'TAKE_PROFIT';

export interface VenueOrderParams {
  readonly symbol: string;
  readonly side: VenueSide;
  readonly type: VenueOrderType;
  readonly quantity: number;
  readonly newClientOrderId: string;
  readonly reduceOnly: boolean;
  /** STOP_MARKET / TAKE_PROFIT_MARKET closing the whole position; quantity is then ignored */
  readonly closePosition?: boolean;
  readonly price?: number;
  readonly stopPrice?: number;
  /** LIMIT only; default GTC */
  readonly timeInForce?: 'GTC' | 'IOC' | 'FOK' | 'GTX';
}

export interface VenueOrderAck {
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly status: string;
  readonly executedQty: number;
  readonly avgPrice: number;
}

export interface VenueOpenOrder {
  readonly symbol: string;
  readonly orderId: string;
  readonly clientOrderId: string;
  readonly side: VenueSide;
  readonly type: string;
}

export interface VenuePosition {
  readonly symbol: string;
  /** signed: > 0 long, < 0 short */
  readonly positionAmt: number;
  readonly entryPrice: number;
  readonly markPrice: number;
  readonly unrealizedPnl: number;
}

export interface VenueBalance {
  readonly asset: string;
  /** wallet balance (realised) */
  readonly walletBalance: number;
  readonly unrealizedPnl: number;
  readonly availableBalance: number;
}

export interface WalletVenue {
  placeOrder(params: VenueOrderParams): Promise<VenueOrderAck>;
  /** every open order of the wallet (all symbols when `symbol` is omitted) */
  openOrders(symbol?: string): Promise<VenueOpenOrder[]>;
  cancelAll(symbol: string): Promise<void>;
  /** does the exchange know this client order id (any status)? Throws when it cannot tell */
  findOrder(symbol: string, clientOrderId: string): Promise<'present' | 'absent'>;
  /** cancel one order by its client order id */
  cancelOrder(symbol: string, clientOrderId: string): Promise<void>;
  /** open positions (rows with positionAmt 0 may be included; callers skip them) */
  positions(): Promise<VenuePosition[]>;
  balance(): Promise<VenueBalance>;
  markPrice(symbol: string): Promise<number>;
}

/** Equity of the wallet: realised balance plus unrealised PnL. */
export function walletEquity(b: VenueBalance): number {
  return b.walletBalance + b.unrealizedPnl;
}
