import type { SimContext } from '../context.ts';
import { ApiError, bad, invalid, missing } from '../api-error.ts';
import type { FaultKind } from '../faults.ts';
import {
  accountOf,
  cancelAll,
  cancelOrder,
  fillAtMarket,
  findOrder,
  openOrders,
  placeOrder,
  type OrderRequest,
  type OrderType,
  type TimeInForce,
} from '../matching.kernel.ts';
import { money, orderJson } from '../payloads.ts';
import { boolParam, intParam, jsonList, symbolParam, type Ctx, type Reply, type RouteTable } from './route.ts';

/** an injected fill fault: the MARKET order fills later, or partly now and the rest later */
export interface FillFault {
  kind?: FaultKind;
  delayMs?: number;
  fraction?: number;
}

const ORDER_FIELDS = ['quantity', 'price', 'stopPrice', 'activationPrice', 'callbackRate'] as const;

function orderRequest(sim: SimContext, ctx: Ctx): OrderRequest {
  const p = ctx.params;
  const side = p.get('side');
  const type = p.get('type');
  if (!side) throw missing('side');
  if (!type) throw missing('type');
  const positionSide = p.get('positionSide');
  if (positionSide !== null && positionSide !== 'BOTH')
    throw bad(-4061, "Order's position side does not match user's setting.");
  const str = (k: string): string | undefined => p.get(k) ?? undefined;
  const req: OrderRequest = {
    symbol: symbolParam(sim, ctx),
    side: side as OrderRequest['side'],
    type: type as OrderType,
  };
  const tif = str('timeInForce');
  if (tif !== undefined) req.timeInForce = tif as TimeInForce;
  for (const k of ORDER_FIELDS) {
    const v = str(k);
    if (v !== undefined) req[k] = v;
  }
  const ro = boolParam(ctx, 'reduceOnly');
  if (ro !== undefined) req.reduceOnly = ro;
  const cp = boolParam(ctx, 'closePosition');
  if (cp !== undefined) req.closePosition = cp;
  const cid = str('newClientOrderId');
  if (cid !== undefined) req.clientOrderId = cid;
  const wt = str('workingType');
  if (wt !== undefined) {
    if (wt !== 'MARK_PRICE' && wt !== 'CONTRACT_PRICE') throw bad(-4066, 'Invalid workingType.');
    req.workingType = wt;
  }
  const pp = str('priceProtect');
  if (pp !== undefined) req.priceProtect = pp.toUpperCase() === 'TRUE';
  return req;
}

/** places one order; the reply is the ACK (NEW) unless RESULT is asked for */
export function newOrder(sim: SimContext, ctx: Ctx, fault: FillFault = {}): Reply {
  const req = orderRequest(sim, ctx);
  const defer = fault.kind === 'delayed-fill' || fault.kind === 'partial-fill';
  const res = placeOrder(sim.engine, ctx.account, req, sim.eventTime(), { deferFill: defer });
  if (!res.ok) throw bad(res.code, res.msg);
  sim.dispatch(res.events);
  const o = res.order;
  if (o.pending) {
    const fillRest = (): void => sim.dispatch(fillAtMarket(sim.engine, o.orderId, 1, sim.eventTime()));
    if (fault.kind === 'partial-fill')
      sim.dispatch(fillAtMarket(sim.engine, o.orderId, fault.fraction ?? 0.5, sim.eventTime()));
    sim.later(fillRest, fault.delayMs ?? 500);
  }
  const first = res.events[0];
  const ack = ctx.params.get('newOrderRespType') === 'RESULT' ? o : first?.kind === 'order' ? first.order : o;
  return { body: orderJson(ack, sim.fmtOf(o.symbol)) };
}

function idArgs(ctx: Ctx): { orderId?: number; clientId?: string } {
  const orderId = intParam(ctx, 'orderId');
  const clientId = ctx.params.get('origClientOrderId') ?? undefined;
  if (orderId === undefined && clientId === undefined) throw missing('orderId');
  return { ...(orderId !== undefined ? { orderId } : {}), ...(clientId !== undefined ? { clientId } : {}) };
}

function queryOrder(sim: SimContext, ctx: Ctx, openOnly: boolean): Reply {
  const s = symbolParam(sim, ctx);
  const { orderId, clientId } = idArgs(ctx);
  const o = findOrder(sim.engine, ctx.account, s, orderId, clientId);
  if (!o || (openOnly && o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED'))
    throw bad(-2013, 'Order does not exist.');
  return { body: orderJson(o, sim.fmtOf(s)) };
}

function placeBatch(sim: SimContext, ctx: Ctx): Reply {
  const list = jsonList(ctx, 'batchOrders');
  if (list.length === 0 || list.length > 5) throw invalid('batchOrders');
  return {
    body: list.map((item) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        return { code: -1130, msg: "Data sent for parameter 'batchOrders' is not valid." };
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(item as Record<string, unknown>)) params.set(k, String(v));
      try {
        return newOrder(sim, { ...ctx, params }).body;
      } catch (e) {
        if (e instanceof ApiError) return { code: e.code, msg: e.message };
        throw e;
      }
    }),
  };
}

function cancelBatch(sim: SimContext, ctx: Ctx): Reply {
  const s = symbolParam(sim, ctx);
  const byId = ctx.params.has('orderIdList') || ctx.params.has('orderidlist');
  const targets = (byId ? jsonList(ctx, 'orderIdList') : jsonList(ctx, 'origClientOrderIdList')).slice(0, 10);
  if (targets.length === 0) throw missing('orderIdList');
  const time = sim.eventTime();
  return {
    body: targets.map((t) => {
      const r = byId
        ? cancelOrder(sim.engine, ctx.account, s, Number(t), undefined, time)
        : cancelOrder(sim.engine, ctx.account, s, undefined, String(t), time);
      if (!r.ok) return { code: r.code, msg: r.msg };
      sim.dispatch(r.events);
      return orderJson(r.order, sim.fmtOf(s));
    }),
  };
}

/** a dead-man switch per account and symbol on the market clock; 0 switches it off */
function countdown(sim: SimContext, ctx: Ctx): Reply {
  const s = symbolParam(sim, ctx);
  const ms = intParam(ctx, 'countdownTime');
  if (ms === undefined) throw missing('countdownTime');
  if (ms < 0) throw invalid('countdownTime');
  const key = `${ctx.account}|${s}`;
  if (ms === 0) sim.countdowns.delete(key);
  else sim.countdowns.set(key, { account: ctx.account, symbol: s, deadline: sim.replay.cursorTime + ms });
  return { body: { symbol: s, countdownTime: String(ms) } };
}

function userTrades(sim: SimContext, ctx: Ctx): Reply {
  const s = symbolParam(sim, ctx);
  const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1000);
  const f = sim.fmtOf(s);
  const rows = accountOf(sim.engine, ctx.account)
    .fills.filter((x) => x.symbol === s)
    .slice(-limit)
    .map((x) => ({
      buyer: x.side === 'BUY',
      commission: money(x.commission),
      commissionAsset: 'USDT',
      id: x.id,
      maker: x.maker,
      orderId: x.orderId,
      price: f.price(x.price),
      qty: f.qty(x.qty),
      quoteQty: x.quoteQty.toFixed(5),
      realizedPnl: money(x.realizedPnl),
      side: x.side,
      positionSide: 'BOTH',
      symbol: s,
      time: x.time,
    }));
  return { body: rows };
}

/** Trading: orders, batches, cancels, the dead-man switch and the account's order and trade history. */
export function orderRoutes(sim: SimContext): RouteTable {
  return {
    'POST order': { handle: (ctx) => newOrder(sim, ctx) },
    'GET order': { handle: (ctx) => queryOrder(sim, ctx, false) },
    'GET openOrder': { handle: (ctx) => queryOrder(sim, ctx, true) },
    'DELETE order': {
      handle: (ctx) => {
        const s = symbolParam(sim, ctx);
        const { orderId, clientId } = idArgs(ctx);
        const r = cancelOrder(sim.engine, ctx.account, s, orderId, clientId, sim.eventTime());
        if (!r.ok) throw bad(r.code, r.msg);
        sim.dispatch(r.events);
        return { body: orderJson(r.order, sim.fmtOf(s)) };
      },
    },
    'POST batchOrders': { weight: 5, handle: (ctx) => placeBatch(sim, ctx) },
    'DELETE batchOrders': { handle: (ctx) => cancelBatch(sim, ctx) },
    'POST countdownCancelAll': { weight: 10, handle: (ctx) => countdown(sim, ctx) },
    'DELETE allOpenOrders': {
      handle: (ctx) => {
        sim.dispatch(cancelAll(sim.engine, ctx.account, symbolParam(sim, ctx), sim.eventTime()));
        return { body: { code: '200', msg: 'The operation of cancel all open order is done.' } };
      },
    },
    'GET openOrders': {
      weight: (p) => (p.has('symbol') ? 1 : 40),
      handle: (ctx) => {
        const s = symbolParam(sim, ctx, false);
        return { body: openOrders(sim.engine, ctx.account, s).map((o) => orderJson(o, sim.fmtOf(o.symbol))) };
      },
    },
    'GET allOrders': {
      weight: 5,
      handle: (ctx) => {
        const s = symbolParam(sim, ctx);
        const limit = Math.min(intParam(ctx, 'limit') ?? 500, 1000);
        const from = intParam(ctx, 'orderId');
        const all = [...accountOf(sim.engine, ctx.account).orders.values()].filter(
          (o) => o.symbol === s && (from === undefined || o.orderId >= from),
        );
        const picked = from === undefined ? all.slice(-limit) : all.slice(0, limit);
        return { body: picked.map((o) => orderJson(o, sim.fmtOf(s))) };
      },
    },
    'GET userTrades': { weight: 5, handle: (ctx) => userTrades(sim, ctx) },
  };
}
