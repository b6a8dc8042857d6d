import { z } from 'zod';
import { isSapphireError } from '../../pipelines/errors.ts';

const CLIENT_ORDER_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
export const BOT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SYMBOL = /^[A-Z0-9]{2,30}$/;

export const OrderRequestSchema = z
  .strictObject({
    symbol: z.string().regex(SYMBOL),
    side: z.enum(['BUY', 'SELL']),
    /** 0 only with closePosition */
    quantity: z.number().nonnegative().finite(),
    type: z.enum(['MARKET', 'LIMIT', 'STOP_MARKET', 'TAKE_PROFIT_MARKET']),
    clientOrderId: z.string().regex(CLIENT_ORDER_ID),
    reduceOnly: z.boolean(),
    /** protective STOP_MARKET / TAKE_PROFIT_MARKET closing the whole position (quantity 0) */
    closePosition: z.boolean().optional(),
    price: z.number().positive().finite().optional(),
    stopPrice: z.number().positive().finite().optional(),
    /** LIMIT only (a slippage-guarded MARKET is sent as LIMIT IOC); default GTC */
    timeInForce: z.enum(['GTC', 'IOC', 'FOK', 'GTX']).optional(),
    kellyFraction: z.number().nonnegative().finite().optional(),
    equity: z.number().nonnegative().finite().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.closePosition === true) {
      if (o.type !== 'STOP_MARKET' && o.type !== 'TAKE_PROFIT_MARKET')
        ctx.addIssue({
          code: 'custom',
          path: ['closePosition'],
          message: 'closePosition needs a STOP_MARKET or TAKE_PROFIT_MARKET',
        });
      if (o.quantity !== 0)
        ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'closePosition orders carry quantity 0' });
    } else if (!(o.quantity > 0)) {
      ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'quantity must be positive' });
    }
    if (o.type === 'LIMIT' && o.price === undefined) {
      ctx.addIssue({ code: 'custom', path: ['price'], message: 'LIMIT orders need a price' });
    }
    if (o.timeInForce !== undefined && o.type !== 'LIMIT') {
      ctx.addIssue({ code: 'custom', path: ['timeInForce'], message: 'timeInForce is for LIMIT orders' });
    }
    if ((o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') && o.stopPrice === undefined) {
      ctx.addIssue({ code: 'custom', path: ['stopPrice'], message: `${o.type} orders need a stopPrice` });
    }
  });
export type OrderRequest = z.infer<typeof OrderRequestSchema>;

export const CancelRequestSchema = z.strictObject({
  symbol: z.string().regex(SYMBOL),
  clientOrderId: z.string().regex(CLIENT_ORDER_ID),
});
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

export const DecisionRecordSchema = z.strictObject({
  botId: z.string().regex(BOT_ID),
  symbol: z.string().regex(SYMBOL),
  action: z.string().min(1).max(40),
  confidence: z.number().min(0).max(1).optional(),
  price: z.number().positive().finite().optional(),
  time: z.number().int().nonnegative().optional(),
  seq: z.number().int().nonnegative().optional(),
  thesis: z.string().max(4000).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type DecisionRecord = z.infer<typeof DecisionRecordSchema>;

export class BadRequest extends Error {
  readonly issues: { path: string; message: string }[];
  constructor(issues: { path: string; message: string }[]) {
    super('bad request');
    this.issues = issues;
  }
}

/** The body checked against `schema`, or a 400 listing every field that failed. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new BadRequest(r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
}

/** A venue failure's code (anything not coded is an exchange that did not answer). */
export function errorCode(e: unknown): string {
  return isSapphireError(e) ? e.code : 'EXCHANGE_UNAVAILABLE';
}
