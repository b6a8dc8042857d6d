import { z } from 'zod';
import type { Side } from '../../pipelines/model/index.ts';

/** The user-data stream's events: the exchange's frames parsed into typed events, numbers converted. */

const num = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) {
    ctx.addIssue({ code: 'custom', message: `not a number: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const OrderTradeUpdateSchema = z.looseObject({
  e: z.literal('ORDER_TRADE_UPDATE'),
  E: num,
  T: num.optional(),
  o: z.looseObject({
    s: z.string(),
    c: z.string(),
    S: z.enum(['BUY', 'SELL']),
    o: z.string(),
    f: z.string().optional(),
    q: num,
    p: num.optional(),
    ap: num.optional(),
    sp: num.optional(),
    x: z.string(),
    X: z.string(),
    i: z.union([z.number(), z.string()]).transform(Number),
    l: num,
    z: num,
    L: num,
    N: z.string().optional(),
    n: num.optional(),
    T: num,
    t: z.union([z.number(), z.string()]).transform(Number).optional(),
    m: z.boolean().optional(),
    R: z.boolean().optional(),
    ot: z.string().optional(),
    ps: z.string().optional(),
    cp: z.boolean().optional(),
    rp: num.optional(),
  }),
});

const AccountUpdateSchema = z.looseObject({
  e: z.literal('ACCOUNT_UPDATE'),
  E: num,
  T: num.optional(),
  a: z.looseObject({
    m: z.string(),
    B: z.array(z.looseObject({ a: z.string(), wb: num, cw: num.optional(), bc: num.optional() })).default([]),
    P: z
      .array(
        z.looseObject({
          s: z.string(),
          pa: num,
          ep: num,
          up: num.optional(),
          mt: z.string().optional(),
          ps: z.string().optional(),
        }),
      )
      .default([]),
  }),
});

/** ORDER_TRADE_UPDATE, numbers converted */
export interface OrderUpdate {
  readonly kind: 'order-update';
  readonly eventTime: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly orderId: number;
  readonly side: Side;
  readonly orderType: string;
  /** NEW CANCELED CALCULATED EXPIRED TRADE */
  readonly executionType: string;
  /** NEW PARTIALLY_FILLED FILLED CANCELED EXPIRED … */
  readonly status: string;
  readonly origQty: number;
  readonly price: number;
  readonly avgPrice: number;
  readonly stopPrice: number;
  readonly lastQty: number;
  readonly lastPrice: number;
  readonly cumQty: number;
  readonly commission: number;
  readonly commissionAsset: string;
  readonly tradeTime: number;
  readonly tradeId: number;
  readonly isMaker: boolean;
  readonly reduceOnly: boolean;
  readonly closePosition: boolean;
  readonly positionSide: string;
  readonly realizedPnl: number;
}

export interface AccountUpdate {
  readonly kind: 'account-update';
  readonly eventTime: number;
  /** T: when the balance moved (E when absent) */
  readonly transactionTime: number;
  readonly reason: string;
  readonly balances: readonly { asset: string; walletBalance: number; crossWalletBalance: number; change: number }[];
  readonly positions: readonly {
    symbol: string;
    positionAmt: number;
    entryPrice: number;
    unrealizedPnl: number;
    marginType: string;
    positionSide: string;
  }[];
}

export interface ListenKeyExpired {
  readonly kind: 'listen-key-expired';
  readonly eventTime: number;
}

/** any other event type (MARGIN_CALL, ACCOUNT_CONFIG_UPDATE, announcement …), passed on raw */
export interface OtherUserEvent {
  readonly kind: 'other';
  readonly type: string;
  readonly raw: unknown;
}

/**
 * Funding read from the exchange's ledger (`/fapi/v1/income`, incomeType FUNDING_FEE): after a
 * reconnect, or when an ACCOUNT_UPDATE FUNDING_FEE carries no balance change (`bc` "0").
 */
export interface FundingIncome {
  readonly kind: 'funding-income';
  readonly symbol: string;
  readonly asset: string;
  /** signed balance change: negative = paid */
  readonly income: number;
  readonly time: number;
  readonly tranId: number;
}

export type UserEvent = OrderUpdate | AccountUpdate | ListenKeyExpired | FundingIncome | OtherUserEvent;

export type ParseResult = { ok: true; event: UserEvent } | { ok: false; detail: string };

/** one user-data frame (raw or wrapped as {stream, data}) → typed event, or why it is malformed */
export function parseUserEvent(text: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'frame is not JSON' };
  }
  const data = typeof msg === 'object' && msg !== null && 'data' in msg ? (msg as { data: unknown }).data : msg;
  const e = typeof data === 'object' && data !== null ? (data as { e?: unknown }).e : undefined;
  if (typeof e !== 'string') return { ok: false, detail: 'frame has no event type' };
  if (e === 'ORDER_TRADE_UPDATE') {
    const p = OrderTradeUpdateSchema.safeParse(data);
    if (!p.success) return { ok: false, detail: `malformed ORDER_TRADE_UPDATE: ${p.error.issues[0]?.message ?? ''}` };
    const o = p.data.o;
    return {
      ok: true,
      event: {
        kind: 'order-update',
        eventTime: p.data.E,
        symbol: o.s,
        clientOrderId: o.c,
        orderId: o.i,
        side: o.S,
        orderType: o.o,
        executionType: o.x,
        status: o.X,
        origQty: o.q,
        price: o.p ?? 0,
        avgPrice: o.ap ?? 0,
        stopPrice: o.sp ?? 0,
        lastQty: o.l,
        lastPrice: o.L,
        cumQty: o.z,
        commission: o.n ?? 0,
        commissionAsset: o.N ?? '',
        tradeTime: o.T,
        tradeId: o.t ?? 0,
        isMaker: o.m ?? false,
        reduceOnly: o.R ?? false,
        closePosition: o.cp ?? false,
        positionSide: o.ps ?? 'BOTH',
        realizedPnl: o.rp ?? 0,
      },
    };
  }
  if (e === 'ACCOUNT_UPDATE') {
    const p = AccountUpdateSchema.safeParse(data);
    if (!p.success) return { ok: false, detail: `malformed ACCOUNT_UPDATE: ${p.error.issues[0]?.message ?? ''}` };
    const a = p.data.a;
    return {
      ok: true,
      event: {
        kind: 'account-update',
        eventTime: p.data.E,
        transactionTime: p.data.T ?? p.data.E,
        reason: a.m,
        balances: a.B.map((b) => ({
          asset: b.a,
          walletBalance: b.wb,
          crossWalletBalance: b.cw ?? b.wb,
          change: b.bc ?? 0,
        })),
        positions: a.P.map((x) => ({
          symbol: x.s,
          positionAmt: x.pa,
          entryPrice: x.ep,
          unrealizedPnl: x.up ?? 0,
          marginType: x.mt ?? '',
          positionSide: x.ps ?? 'BOTH',
        })),
      },
    };
  }
  if (e === 'listenKeyExpired') {
    const t = Number((data as { E?: unknown }).E);
    return { ok: true, event: { kind: 'listen-key-expired', eventTime: Number.isFinite(t) ? t : 0 } };
  }
  return { ok: true, event: { kind: 'other', type: e, raw: data } };
}
