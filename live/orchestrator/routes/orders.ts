import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ClockPort } from '../../../pipelines/ports.ts';
import { checkGuardrails, type WalletLimits } from '../guardrails.ts';
import type { OrchestratorState } from '../orchestrator-state.ts';
import {
  BadRequest,
  BOT_ID,
  CancelRequestSchema,
  errorCode,
  OrderRequestSchema,
  parse,
  type OrderRequest,
} from '../orchestrator-schemas.ts';
import { walletEquity, type VenuePosition, type WalletVenue } from '../wallet-venue.ts';

export interface OrderRouteOptions {
  readonly state: OrchestratorState;
  readonly venue: WalletVenue;
  readonly clock: ClockPort;
  readonly limits: WalletLimits;
}

/** 422 for an exchange refusal, 502 for an exchange that did not answer. */
function venueFailure(reply: FastifyReply, clientOrderId: string, e: unknown): FastifyReply {
  const code = errorCode(e);
  const rejected = code === 'EXCHANGE_REJECTED';
  return reply.code(rejected ? 422 : 502).send({ status: rejected ? 'rejected' : 'error', clientOrderId, error: code });
}

function botIdOf(params: { botId: string }): string {
  if (!BOT_ID.test(params.botId)) throw new BadRequest([{ path: 'botId', message: 'invalid bot id' }]);
  return params.botId;
}

/**
 * A repeat of a routed id: a duplicate, unless its outcome is in doubt and the exchange confirms
 * it never arrived (null: route it). A lookup that fails leaves it in doubt: never sent blind.
 */
async function repeatOutcome(
  o: OrderRequest,
  botId: string,
  opts: OrderRouteOptions,
): Promise<{ duplicateOf: string } | null> {
  const { state, venue, clock } = opts;
  const id = o.clientOrderId;
  const seen = state.routed.get(id);
  if (seen === undefined) return null;
  if (!state.inDoubt.has(id) || seen.botId !== botId || seen.symbol !== o.symbol) return { duplicateOf: seen.botId };
  state.pending.add(id);
  let found: 'present' | 'absent' | undefined;
  try {
    found = await venue.findOrder(o.symbol, id);
  } catch {
    found = undefined;
  } finally {
    state.pending.delete(id);
  }
  if (found !== undefined) state.record({ t: 'resolved', time: clock.now(), id, found: found === 'present' });
  return found === 'absent' ? null : { duplicateOf: seen.botId };
}

/** Wallet checks, then the id on disk, then the venue. */
async function route(o: OrderRequest, botId: string, reply: FastifyReply, opts: OrderRouteOptions) {
  const { state, venue, clock } = opts;
  const id = o.clientOrderId;
  const exitOnly = o.reduceOnly || o.closePosition === true;
  const halted = () => reply.code(423).send({ status: 'halted', reason: state.halt, clientOrderId: id });
  let positions: VenuePosition[];
  let equity: number;
  let price: number;
  try {
    const [b, p, mark] = await Promise.all([
      venue.balance(),
      venue.positions(),
      o.price !== undefined ? Promise.resolve(o.price) : venue.markPrice(o.symbol),
    ]);
    positions = p.filter((x) => x.positionAmt !== 0);
    equity = walletEquity(b);
    price = mark;
  } catch (e) {
    // e.g. a symbol the exchange does not list (premiumIndex refused): nothing was sent
    return venueFailure(reply, id, e);
  }
  state.notePeak(equity);
  // an emergency stop may have started while we were reading the wallet
  if (state.blocks(exitOnly)) return halted();
  const { kellyFraction, symbol, side, quantity } = o;
  const verdict = checkGuardrails(
    {
      symbol,
      side,
      quantity,
      reduceOnly: exitOnly,
      price,
      kellyFraction,
      equity,
      peakEquity: state.peakEquity,
      positions,
    },
    opts.limits,
  );
  if (!verdict.ok) {
    if (verdict.rule === 'drawdown-floor') {
      state.haltNow('drawdown');
      return halted();
    }
    const { rule, value, limit, detail } = verdict;
    return reply.code(422).send({ status: 'denied', clientOrderId: id, rule, value, limit, detail });
  }
  // on disk before the venue sees it: a crash after this line can never send the id twice
  const { type, reduceOnly } = o;
  state.record({ t: 'routed', time: clock.now(), id, botId, symbol, side, type, quantity, reduceOnly });
  try {
    const ack = await venue.placeOrder({
      symbol,
      side,
      type,
      quantity,
      newClientOrderId: id,
      reduceOnly,
      ...(o.closePosition === true ? { closePosition: true } : {}),
      ...(o.price !== undefined && type === 'LIMIT' ? { price: o.price } : {}),
      ...(o.stopPrice !== undefined ? { stopPrice: o.stopPrice } : {}),
      ...(o.timeInForce !== undefined ? { timeInForce: o.timeInForce } : {}),
    });
    const filled = type === 'MARKET' ? quantity : ack.executedQty;
    const exposureQty = side === 'BUY' ? filled : -filled;
    state.record({ t: 'ack', time: clock.now(), id, orderId: ack.orderId, status: ack.status, exposureQty });
    const { orderId, executedQty, avgPrice } = ack;
    return { status: 'routed', clientOrderId: id, botId, orderId, venueStatus: ack.status, executedQty, avgPrice };
  } catch (e) {
    state.record({ t: 'failed', time: clock.now(), id, error: errorCode(e) });
    return venueFailure(reply, id, e);
  }
}

/**
 * Bots' orders (admin scope). Each client order id is routed at most once; a bot may cancel only
 * what it routed itself, also while halted (a cancel only lowers risk).
 */
export const orderRoutes: FastifyPluginAsync<OrderRouteOptions> = async (app, opts) => {
  const { state, venue } = opts;
  app.post<{ Params: { botId: string } }>('/order/:botId', async (req, reply) => {
    const botId = botIdOf(req.params);
    const o = parse(OrderRequestSchema, req.body);
    const id = o.clientOrderId;
    if (state.pending.has(id)) return { status: 'duplicate', clientOrderId: id, botId };
    const repeat = await repeatOutcome(o, botId, opts);
    if (repeat !== null) return { status: 'duplicate', clientOrderId: id, botId: repeat.duplicateOf };
    if (state.blocks(o.reduceOnly || o.closePosition === true)) {
      return reply.code(423).send({ status: 'halted', reason: state.halt, clientOrderId: id });
    }
    state.pending.add(id);
    try {
      return await route(o, botId, reply, opts);
    } finally {
      state.pending.delete(id);
    }
  });

  app.post<{ Params: { botId: string } }>('/cancel/:botId', async (req, reply) => {
    const botId = botIdOf(req.params);
    const c = parse(CancelRequestSchema, req.body);
    const mine = state.routed.get(c.clientOrderId);
    if (mine === undefined || mine.botId !== botId || mine.symbol !== c.symbol) {
      return reply.code(404).send({ status: 'unknown', clientOrderId: c.clientOrderId });
    }
    try {
      await venue.cancelOrder(c.symbol, c.clientOrderId);
    } catch (e) {
      return venueFailure(reply, c.clientOrderId, e);
    }
    return { status: 'cancelled', clientOrderId: c.clientOrderId };
  });
};
