import type { Fill, Order } from '../../pipelines/model/index.ts';
import type { VenueEvent } from '../../pipelines/ports.ts';
import { fillOf, inferReason } from './aster-execution-port.ts';
import type { OrderUpdate } from './user-events.ts';

/**
 * The start of a restarted live service puts two reads together: the lookups of the orders the
 * journal knows as working (absent, cancelled, or executed beyond the journal: a remainder fill
 * at the average price) and the user stream's catch-up of trades since the journal's last fill
 * (each trade beyond the journal's quantity for its order, at its own price and fee). A trade
 * read back stands for its part of an order's remainder, so the two never count a quantity twice.
 */

export interface JournaledFills {
  readonly filled: ReadonlyMap<string, number>;
  readonly lastFillTime: number;
}

/**
 * Where the trade catch-up starts: the journal's last fill, or the earliest remainder the lookups
 * found, whichever is older, less `slackMs` (clock skew, late indexing). With neither, `now`.
 */
export function restartSince(
  journaled: JournaledFills,
  lookups: readonly VenueEvent[],
  now: number,
  slackMs: number,
): number {
  const times = lookups.filter((e) => e.kind === 'fill').map((e) => e.time);
  if (Number.isFinite(journaled.lastFillTime)) times.push(journaled.lastFillTime);
  return (times.length > 0 ? Math.min(...times) : now) - slackMs;
}

/**
 * The lookups' outcomes with their remainder fills replaced by the trades read back (reason from
 * the journal's order, else read from the exchange's order), and what is left of a remainder
 * that no trade explains; in time order.
 */
export function mergeRestartFills(
  lookups: readonly VenueEvent[],
  trades: readonly OrderUpdate[],
  open: readonly { order: Order }[],
): VenueEvent[] {
  const orders = new Map(open.map((o) => [o.order.clientOrderId, o.order]));
  const traded = new Map<string, number>();
  const out: VenueEvent[] = [];
  for (const u of trades) {
    const order = orders.get(u.clientOrderId);
    out.push(fillOf(u, order?.reason ?? inferReason(u), order?.time ?? -Infinity));
    traded.set(u.clientOrderId, (traded.get(u.clientOrderId) ?? 0) + u.lastQty);
  }
  for (const e of lookups) {
    if (e.kind !== 'fill') {
      out.push(e);
      continue;
    }
    const left = e.quantity - (traded.get(e.clientOrderId) ?? 0);
    if (left <= 1e-12 * Math.max(1, e.quantity)) continue;
    const rest: Fill = { ...e, quantity: left, fee: (e.fee * left) / e.quantity };
    out.push(rest);
  }
  return out.sort((a, b) => a.time - b.time);
}
