import { z } from 'zod';
import type { OrderFlow } from '../../pipelines/model/index.ts';

/**
 * Lenient parsers for Aster payloads: unknown keys are kept, numbers may come as strings or
 * numbers and are converted once here. A missing or non-numeric required field is an error,
 * never a silent zero.
 */

const num = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : Number(v);
  if (v === '' || !Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `not a number: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});
const optNum = num.optional();
const bool = z.union([z.boolean(), z.string()]).transform((v) => v === true || v === 'true' || v === 'TRUE');
const id = z.union([z.number(), z.string()]).transform((v) => Number(v));

export const ServerTimeSchema = z.looseObject({ serverTime: num });

// the exchange's trading rules have one parser, shared with backtests and the simulator
export { ExchangeInfoSchema, SymbolInfoSchema, toSymbolFilters, type SymbolInfo } from '../../pipelines/instruments.ts';

/**
 * Order flow as klines carry it: all four numbers, or undefined when any is missing or null (a
 * source without them, like the simulator over files that lack them) — never a zero in their place.
 */
export function orderFlowOf(
  quoteVolume: unknown,
  trades: unknown,
  takerBuyVolume: unknown,
  takerBuyQuoteVolume: unknown,
): OrderFlow | undefined {
  const values = [quoteVolume, trades, takerBuyVolume, takerBuyQuoteVolume].map((v) =>
    (typeof v === 'string' && v.trim() !== '') || typeof v === 'number' ? Number(v) : Number.NaN,
  );
  if (!values.every((v) => Number.isFinite(v) && v >= 0)) return undefined;
  const [q, n, V, Q] = values as [number, number, number, number];
  return { quoteVolume: q, trades: n, takerBuyVolume: V, takerBuyQuoteVolume: Q };
}

/** [openTime, o, h, l, c, v, closeTime, quoteVolume, trades, takerBase, takerQuote, ignore] */
export const KlineRowSchema = z
  .tuple([num, num, num, num, num, num, num])
  .rest(z.unknown())
  .transform((r) => ({
    openTime: r[0],
    open: r[1],
    high: r[2],
    low: r[3],
    close: r[4],
    volume: r[5],
    closeTime: r[6],
    flow: orderFlowOf(r[7], r[8], r[9], r[10]),
  }));
export const KlinesSchema = z.array(KlineRowSchema);
export type Kline = z.infer<typeof KlineRowSchema>;

export const PremiumIndexSchema = z.looseObject({
  symbol: z.string(),
  markPrice: num,
  indexPrice: optNum,
  estimatedSettlePrice: optNum,
  lastFundingRate: optNum,
  nextFundingTime: optNum,
  interestRate: optNum,
  time: optNum,
});
export type PremiumIndex = z.infer<typeof PremiumIndexSchema>;

export const FundingRateSchema = z.array(z.looseObject({ symbol: z.string(), fundingRate: num, fundingTime: num }));

export const Ticker24hSchema = z.looseObject({
  symbol: z.string(),
  priceChange: optNum,
  priceChangePercent: optNum,
  weightedAvgPrice: optNum,
  lastPrice: num,
  openPrice: optNum,
  highPrice: optNum,
  lowPrice: optNum,
  volume: optNum,
  quoteVolume: optNum,
  openTime: optNum,
  closeTime: optNum,
  count: optNum,
});
export type Ticker24h = z.infer<typeof Ticker24hSchema>;

const level = z.tuple([num, num]).rest(z.unknown());
export const DepthSchema = z.looseObject({
  lastUpdateId: num,
  E: optNum,
  T: optNum,
  bids: z.array(level).transform((ls) => ls.map((l) => [l[0], l[1]] as const)),
  asks: z.array(level).transform((ls) => ls.map((l) => [l[0], l[1]] as const)),
});
export type Depth = z.infer<typeof DepthSchema>;

export const OrderSchema = z.looseObject({
  orderId: id,
  symbol: z.string(),
  status: z.string(),
  clientOrderId: z.string(),
  price: optNum,
  avgPrice: optNum,
  origQty: optNum,
  executedQty: optNum,
  cumQuote: optNum,
  timeInForce: z.string().optional(),
  type: z.string(),
  reduceOnly: bool.optional(),
  closePosition: bool.optional(),
  side: z.string(),
  positionSide: z.string().optional(),
  stopPrice: optNum,
  workingType: z.string().optional(),
  origType: z.string().optional(),
  activatePrice: optNum,
  priceRate: optNum,
  time: optNum,
  updateTime: optNum,
});
export type AsterOrder = z.infer<typeof OrderSchema>;
export const OrdersSchema = z.array(OrderSchema);

/** GET /fapi/v1/userTrades rows (the user-data catch-up after a reconnect) */
export const UserTradeSchema = z.looseObject({
  id,
  orderId: id,
  symbol: z.string(),
  side: z.string(),
  price: num,
  qty: num,
  commission: optNum,
  commissionAsset: z.string().optional(),
  maker: bool.optional(),
  realizedPnl: optNum,
  positionSide: z.string().optional(),
  time: num,
});
export type AsterUserTrade = z.infer<typeof UserTradeSchema>;
export const UserTradesSchema = z.array(UserTradeSchema);

/** GET /fapi/v1/income rows (funding read from the exchange's ledger) */
export const IncomeSchema = z.looseObject({
  symbol: z.string().optional(),
  incomeType: z.string(),
  income: num,
  asset: z.string(),
  time: num,
  tranId: id,
  info: z.string().optional(),
  tradeId: z.union([z.number(), z.string()]).optional(),
});
export type AsterIncome = z.infer<typeof IncomeSchema>;
export const IncomesSchema = z.array(IncomeSchema);

export const CodeMsgSchema = z.looseObject({ code: z.union([z.number(), z.string()]), msg: z.string() });

export const BalanceSchema = z.array(
  z.looseObject({
    asset: z.string(),
    balance: num,
    crossWalletBalance: optNum,
    crossUnPnl: optNum,
    availableBalance: num,
    maxWithdrawAmount: optNum,
    updateTime: optNum,
  }),
);

export const AccountSchema = z.looseObject({
  totalWalletBalance: optNum,
  totalUnrealizedProfit: optNum,
  totalMarginBalance: optNum,
  availableBalance: optNum,
  assets: z
    .array(z.looseObject({ asset: z.string(), walletBalance: num, unrealizedProfit: optNum, availableBalance: optNum }))
    .default([]),
  positions: z
    .array(
      z.looseObject({
        symbol: z.string(),
        positionAmt: num,
        entryPrice: optNum,
        unrealizedProfit: optNum,
        leverage: optNum,
        positionSide: z.string().optional(),
      }),
    )
    .default([]),
});

export const PositionRiskSchema = z.array(
  z.looseObject({
    symbol: z.string(),
    positionAmt: num,
    entryPrice: num,
    markPrice: optNum,
    unRealizedProfit: optNum,
    liquidationPrice: optNum,
    leverage: optNum,
    marginType: z.string().optional(),
    positionSide: z.string().optional(),
    updateTime: optNum,
  }),
);

export const LeverageSchema = z.looseObject({ leverage: num, maxNotionalValue: optNum, symbol: z.string() });
export const CommissionRateSchema = z.looseObject({
  symbol: z.string(),
  makerCommissionRate: num,
  takerCommissionRate: num,
});
export const ListenKeySchema = z.looseObject({ listenKey: z.string().min(1) });
