import type { Observable, OperatorFunction } from 'rxjs';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import type { Bar, CancelOrder, Fill, Order, OrderReason, OrderRejected } from '../../pipelines/model/index.ts';
import { CANCELLED_BY_OPERATOR } from '../../pipelines/model/index.ts';
import type { ExecutionPort, VenueEvent, VenueRequest } from '../../pipelines/ports.ts';
import type { NewOrderRequest } from './order-precision.ts';
import type { NewOrderOptions, NewOrderResult } from './rest-client.ts';
import type { OrderUpdate, UserEvent } from './user-events.ts';
import { fundingAttribution } from './funding-attribution.ts';
import { protectiveOrders } from './protective-orders.ts';

/** what the port needs from AsterRestClient */
export interface OrderApi {
  newOrder(req: NewOrderRequest, options?: NewOrderOptions): Promise<NewOrderResult>;
  cancelOrder(q: { symbol: string; origClientOrderId: string }): Promise<unknown>;
}

export type ExecutionIssue =
  | { readonly kind: 'order-unknown'; readonly clientOrderId: string; readonly detail: string }
  | { readonly kind: 'cancel-failed'; readonly clientOrderId: string; readonly detail: string }
  | { readonly kind: 'foreign-fill'; readonly clientOrderId: string; readonly detail: string }
  | { readonly kind: 'fee-asset'; readonly clientOrderId: string; readonly detail: string }
  | { readonly kind: 'funding-unattributed'; readonly clientOrderId: ''; readonly detail: string };

export interface AsterExecutionPortOptions {
  readonly client: OrderApi;
  /** user-data events (AsterUserStream.events) */
  readonly userEvents: Observable<UserEvent>;
  /** the settlement asset fees are quoted in; a commission in another asset is reported as is */
  readonly quoteAsset?: string;
  /** orders whose outcome stays unknown, failed cancels, fills of orders we did not send */
  readonly onIssue?: (issue: ExecutionIssue) => void;
}

const PROTECTIVE = new Set(['STOP_MARKET', 'TAKE_PROFIT_MARKET']);

/** The Aster port, which can also take over orders an earlier life of the service left working. */
export interface AsterExecutionPort extends ExecutionPort {
  /**
   * Orders sent before a restart (or found at the exchange at a start from the exchange) that are
   * still working: followed as the port's own, so their fills carry their reason, a new stop or
   * take-profit replaces them, and they are cancelled when the position goes. Oldest first.
   */
  adopt(orders: readonly Order[]): void;
  /**
   * The exchange's positions as read at a (re)start (symbol → signed amount): funding settled
   * before the next account update is attributed against them, not against an empty book.
   */
  knowPositions(amounts: ReadonlyMap<string, number>): void;
}
/** an order in one of these states is done: the port forgets it (its trades stay deduplicated) */
const TERMINAL = new Set(['FILLED', 'CANCELED', 'EXPIRED', 'REJECTED']);
/** fills of these orders leave the symbol flat (a delever only cuts it) */
const CLOSES_POSITION = new Set<OrderReason>(['stop', 'trailing-stop', 'take-profit', 'exit', 'halt-flatten']);

/** Order (pipeline) → the exchange request: a slippage-guarded MARKET becomes a LIMIT IOC at the guard price. */
export function toNewOrderRequest(o: Order): NewOrderRequest {
  if (o.type === 'MARKET') {
    if (!o.reduceOnly && o.maxSlippageBps > 0 && o.refPrice > 0) {
      const k = o.maxSlippageBps / 10_000;
      return {
        symbol: o.symbol,
        side: o.side,
        type: 'LIMIT',
        timeInForce: 'IOC',
        price: o.side === 'BUY' ? o.refPrice * (1 + k) : o.refPrice * (1 - k),
        quantity: o.quantity,
        newClientOrderId: o.clientOrderId,
      };
    }
    return {
      symbol: o.symbol,
      side: o.side,
      type: 'MARKET',
      quantity: o.quantity,
      reduceOnly: o.reduceOnly || undefined,
      newClientOrderId: o.clientOrderId,
    };
  }
  const closeAll = !(o.quantity > 0);
  return {
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    stopPrice: o.stopPrice,
    ...(closeAll ? { closePosition: true } : { quantity: o.quantity, reduceOnly: true }),
    newClientOrderId: o.clientOrderId,
  };
}

/** why an order we have no record of was sent, read from its type and client order id */
export function inferReason(u: OrderUpdate): OrderReason {
  if (u.orderType === 'STOP_MARKET' || u.orderType === 'STOP') return 'stop';
  if (u.orderType === 'TAKE_PROFIT_MARKET' || u.orderType === 'TAKE_PROFIT') return 'take-profit';
  if (u.orderType === 'TRAILING_STOP_MARKET') return 'trailing-stop';
  if (u.clientOrderId.startsWith('autoclose-')) return 'liquidation';
  if (u.clientOrderId.startsWith('adl_autoclose')) return 'delever';
  return u.reduceOnly || u.closePosition ? 'exit' : 'entry';
}

/** what a fill tells besides itself: an order we did not send, a fee in another asset */
function fillIssues(u: OrderUpdate, mine: Order | undefined, quote: string): ExecutionIssue[] {
  const issues: ExecutionIssue[] = [];
  if (mine === undefined)
    issues.push({
      kind: 'foreign-fill',
      clientOrderId: u.clientOrderId,
      detail: `${u.side} ${u.lastQty} ${u.symbol} @ ${u.lastPrice}`,
    });
  if (u.commissionAsset !== '' && u.commissionAsset !== quote && u.commission !== 0)
    issues.push({
      kind: 'fee-asset',
      clientOrderId: u.clientOrderId,
      detail: `commission ${u.commission} ${u.commissionAsset} is not in ${quote}: reported unconverted`,
    });
  return issues;
}

function rejection(o: Order, reason: string, time: number): OrderRejected {
  return { kind: 'order-rejected', time, symbol: o.symbol, clientOrderId: o.clientOrderId, reason };
}

/** why an order of ours ended without a fill (null: it did not end, or it filled) */
function whyGone(u: OrderUpdate, mine: Order): string | null {
  if (u.cumQty > 0) return null;
  if (u.executionType !== 'EXPIRED' && u.status !== 'REJECTED' && u.executionType !== 'CANCELED') return null;
  return u.executionType === 'EXPIRED' && mine.type === 'MARKET' && mine.maxSlippageBps > 0
    ? `slippage guard: no fill within ${mine.maxSlippageBps} bps of ${mine.refPrice} (IOC expired)`
    : `${u.executionType}/${u.status} by the exchange`;
}

/** a set of the newest `max` keys: add is false for a key already there */
function boundedKeys(max: number): { add(key: string): boolean } {
  const keys = new Set<string>();
  const order: string[] = [];
  return {
    add(key) {
      if (keys.has(key)) return false;
      keys.add(key);
      order.push(key);
      if (order.length > max) keys.delete(order.shift()!);
      return true;
    },
  };
}

/** A TRADE update as the pipeline's Fill (never stamped before `notBefore`: time stays monotonic). */
export function fillOf(u: OrderUpdate, reason: OrderReason, notBefore: number): Fill {
  return {
    kind: 'fill',
    time: Math.max(u.tradeTime, notBefore),
    symbol: u.symbol,
    clientOrderId: u.clientOrderId,
    side: u.side,
    quantity: u.lastQty,
    price: u.lastPrice,
    fee: u.commission,
    liquidity: u.isMaker ? 'maker' : 'taker',
    reason,
  };
}

/** What an earlier life of the service left: working orders, or the positions the exchange holds. */
type LeftOver = { readonly orders: readonly Order[] } | { readonly amounts: ReadonlyMap<string, number> };

/** An operator's cancel, sent by client order id; one the exchange refuses is reported. */
async function cancelForOperator(
  opts: AsterExecutionPortOptions,
  operatorCancels: Set<string>,
  c: CancelOrder,
): Promise<void> {
  operatorCancels.add(c.clientOrderId);
  try {
    await opts.client.cancelOrder({ symbol: c.symbol, origClientOrderId: c.clientOrderId });
  } catch (e) {
    operatorCancels.delete(c.clientOrderId);
    opts.onIssue?.({
      kind: 'cancel-failed',
      clientOrderId: c.clientOrderId,
      detail: `operator cancel: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
}

/** Orders of an earlier life taken over (see AsterExecutionPort.adopt). */
function takeOver(
  adopted: readonly Order[],
  sent: Map<string, Order>,
  protective: ReturnType<typeof protectiveOrders>,
): void {
  for (const o of adopted) {
    sent.set(o.clientOrderId, o);
    // an older one of the same type (a leak of an earlier life) is cancelled by the newer
    if (PROTECTIVE.has(o.type)) void protective.accepted(o);
  }
}

/**
 * ExecutionPort over Aster. Each pipeline Order goes to REST newOrder under its own client order
 * id (precision-checked first); an order that cannot be made becomes an OrderRejected event. A
 * new stop or take-profit replaces the symbol's previous one (placed first, then the old one is
 * cancelled, so the position is never unprotected). Fills come from the user-data stream's
 * ORDER_TRADE_UPDATE trades, deduplicated by trade, and are interleaved with the bars as they
 * arrive (keyed by trade id, so a fill read back by the stream's REST catch-up is not counted twice).
 * Funding (ACCOUNT_UPDATE FUNDING_FEE) becomes a FundingPayment for the symbol it can be
 * attributed to (isolated: listed; cross: our only open position), else an issue is reported; a
 * FUNDING_FEE with a zero balance change is left to the stream, which reads the amount from the
 * income ledger and sends it as a funding-income event (the ledger names the symbol).
 * An operator's cancel-order is sent as DELETE /fapi/v1/order by origClientOrderId; the exchange's
 * CANCELED update then becomes an order-rejected event with reason CANCELLED_BY_OPERATOR (a cancel
 * the exchange refuses — the order filled or is unknown — is reported as a cancel-failed issue).
 * An event is never stamped earlier than the last event passed on (time stays monotonic).
 * No timers: everything is driven by bars, orders and user events.
 */
export function asterExecutionPort(opts: AsterExecutionPortOptions): AsterExecutionPort {
  const quote = opts.quoteAsset ?? 'USDT';
  /** the running subscription's intake of what an earlier life left; what comes before it waits */
  let intake: ((left: LeftOver) => void) | null = null;
  const waiting: LeftOver[] = [];
  const takeIn = (left: LeftOver): void => {
    if (intake !== null) intake(left);
    else waiting.push(left);
  };
  return {
    adopt: (orders) => takeIn({ orders }),
    knowPositions: (amounts) => takeIn({ amounts }),
    attach(orders: Observable<VenueRequest>): OperatorFunction<Bar, Bar | VenueEvent> {
      return defineOperator<Bar, Bar | VenueEvent>((emit) => {
        let lastTime = -Infinity;
        let closed = false;
        const lastClose = new Map<string, number>();
        const sent = new Map<string, Order>();
        const protective = protectiveOrders(opts.client, opts.onIssue);
        const seenTrades = boundedKeys(10_000);
        /** client order ids an operator asked to cancel: their CANCELED is the operator's, not the exchange's */
        const operatorCancels = new Set<string>();

        const out = (e: Bar | VenueEvent): void => {
          if (closed) return;
          lastTime = Math.max(lastTime, e.time);
          emit(e);
        };
        const reject = (o: Order, reason: string): void => out(rejection(o, reason, Math.max(o.time, lastTime)));

        const place = async (o: Order): Promise<void> => {
          sent.set(o.clientOrderId, o);
          let result: NewOrderResult;
          try {
            result = await opts.client.newOrder(toNewOrderRequest(o), { markPrice: lastClose.get(o.symbol) });
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            // a broken answer to an order POST may hide a placed order: not a rejection
            if (e instanceof SapphireError && e.code === 'EXCHANGE_PAYLOAD')
              return opts.onIssue?.({ kind: 'order-unknown', clientOrderId: o.clientOrderId, detail: msg });
            return reject(o, msg);
          }
          if (result.status === 'rejected') return reject(o, `${result.stage}: ${result.reason}`);
          if (result.status === 'unknown')
            return opts.onIssue?.({ kind: 'order-unknown', clientOrderId: o.clientOrderId, detail: result.reason });
          if (PROTECTIVE.has(o.type)) await protective.accepted(o);
        };

        const cancel = (c: CancelOrder) => cancelForOperator(opts, operatorCancels, c);

        const onOrderUpdate = (u: OrderUpdate): void => {
          const mine = sent.get(u.clientOrderId);
          if (u.executionType === 'TRADE' && u.lastQty > 0) {
            // a trade id names a fill whichever way it came (socket or the REST catch-up, whose
            // cumulative quantity is reconstructed); without one, the order's cumulative quantity
            if (!seenTrades.add(u.tradeId > 0 ? `${u.symbol}:t${u.tradeId}` : `${u.symbol}:${u.orderId}:${u.cumQty}`))
              return;
            for (const issue of fillIssues(u, mine, quote)) opts.onIssue?.(issue);
            const f = fillOf(u, mine?.reason ?? inferReason(u), lastTime);
            funding.moved(u.symbol, u.side === 'BUY' ? u.lastQty : -u.lastQty);
            out(f);
            if (u.status === 'FILLED' && mine !== undefined && CLOSES_POSITION.has(mine.reason)) {
              void protective.positionGone(u.symbol, u.clientOrderId);
            }
            return;
          }
          const why = mine === undefined ? null : whyGone(u, mine);
          if (why !== null && u.executionType === 'CANCELED' && operatorCancels.delete(u.clientOrderId))
            return reject(mine!, CANCELLED_BY_OPERATOR);
          // an order we replaced ourselves is no rejection
          if (why !== null && !protective.cancelledByUs(u.clientOrderId)) reject(mine!, why);
        };

        intake = (left) => {
          if ('orders' in left) takeOver(left.orders, sent, protective);
          else for (const [symbol, amount] of left.amounts) funding.holds(symbol, amount);
        };
        const orderSub = orders.subscribe({ next: (o) => void (o.kind === 'cancel-order' ? cancel(o) : place(o)) });
        const funding = fundingAttribution({
          quote,
          markOf: (symbol) => lastClose.get(symbol) ?? Number.NaN,
          notBefore: () => lastTime,
          emit: out,
          onIssue: opts.onIssue,
        });

        for (const left of waiting.splice(0)) intake(left);
        const userSub = opts.userEvents.subscribe({
          next: (e) => {
            if (e.kind === 'account-update') return funding.onAccountUpdate(e);
            if (e.kind === 'funding-income') return funding.onFundingIncome(e);
            if (e.kind !== 'order-update') return;
            onOrderUpdate(e);
            if (TERMINAL.has(e.status)) sent.delete(e.clientOrderId);
          },
        });

        return {
          next(bar) {
            lastClose.set(bar.symbol, bar.close);
            out(bar);
          },
          teardown() {
            closed = true;
            intake = null;
            orderSub.unsubscribe();
            userSub.unsubscribe();
          },
        };
      });
    },
  };
}
