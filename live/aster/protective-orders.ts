import type { Order } from '../../pipelines/model/index.ts';
import { isUnknownOrderCancel } from './rest-client.ts';

export interface CancelIssue {
  readonly kind: 'cancel-failed';
  readonly clientOrderId: string;
  readonly detail: string;
}

/**
 * The live stop and take-profit of each symbol at the exchange. A new one replaces the previous
 * one of its type (cancelled only after the new one is accepted, so the position is never
 * unprotected); when the position is gone, the others are cancelled, or a stop left working would
 * close the NEXT position. Cancels we asked for are remembered, so their CANCELED is no rejection.
 */
export function protectiveOrders(
  client: { cancelOrder(q: { symbol: string; origClientOrderId: string }): Promise<unknown> },
  onIssue?: (issue: CancelIssue) => void,
) {
  /** symbol → type → client order id of the live protective order */
  const live = new Map<string, Map<string, string>>();
  const cancelling = new Set<string>();
  const cancel = async (symbol: string, id: string): Promise<void> => {
    cancelling.add(id);
    await client.cancelOrder({ symbol, origClientOrderId: id }).catch((e: unknown) => {
      // already triggered, expired or cancelled: nothing is left working, which is what we want;
      // any other failure leaves it unknown whether it still works, and is reported
      if (isUnknownOrderCancel(e)) return;
      onIssue?.({ kind: 'cancel-failed', clientOrderId: id, detail: e instanceof Error ? e.message : String(e) });
    });
  };
  return {
    /** a stop or take-profit the exchange accepted */
    async accepted(o: Order): Promise<void> {
      let bySymbol = live.get(o.symbol);
      if (bySymbol === undefined) live.set(o.symbol, (bySymbol = new Map()));
      const previous = bySymbol.get(o.type);
      bySymbol.set(o.type, o.clientOrderId);
      if (previous !== undefined && previous !== o.clientOrderId) await cancel(o.symbol, previous);
    },
    /** the position is gone (its stop, take-profit or exit filled) */
    async positionGone(symbol: string, filledId: string): Promise<void> {
      const bySymbol = live.get(symbol);
      if (bySymbol === undefined) return;
      live.delete(symbol);
      for (const id of bySymbol.values()) if (id !== filledId) await cancel(symbol, id);
    },
    /** true (once) for an order we cancelled ourselves */
    cancelledByUs(clientOrderId: string): boolean {
      return cancelling.delete(clientOrderId);
    },
  };
}
