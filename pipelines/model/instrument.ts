/** Trading rules of one symbol, as the exchange's exchangeInfo filters state them. */
export interface SymbolFilters {
  readonly symbol: string;
  /** PRICE_FILTER */
  readonly tickSize: number;
  readonly minPrice: number;
  readonly maxPrice: number;
  /** LOT_SIZE (limit orders) */
  readonly stepSize: number;
  readonly minQty: number;
  readonly maxQty: number;
  /** MARKET_LOT_SIZE */
  readonly marketStepSize: number;
  readonly marketMinQty: number;
  readonly marketMaxQty: number;
  /** MIN_NOTIONAL (price × qty) */
  readonly minNotional: number;
  /** PERCENT_PRICE: a limit price must lie within [mark × down, mark × up] */
  readonly multiplierUp: number;
  readonly multiplierDown: number;
  readonly pricePrecision: number;
  readonly quantityPrecision: number;
}
