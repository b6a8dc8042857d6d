import type { Side } from '../../pipelines/model/index.ts';
import type { AsterRestClient } from '../aster/rest-client.ts';
import type { ExchangeHoldings } from '../engine/adoption.ts';

/**
 * The exchange's positions and working orders on the traded symbols, for a start from the
 * exchange (live/engine/adoption.ts). Transient failures are the client's to retry; one that
 * outlasts its retries throws, and the engine then halts entries rather than guess.
 */
export async function readHoldings(client: AsterRestClient, symbols: readonly string[]): Promise<ExchangeHoldings> {
  const traded = new Set(symbols);
  const [positions, orders] = await Promise.all([client.positionRisk(), client.openOrders()]);
  return {
    positions: positions
      .filter((p) => traded.has(p.symbol) && p.positionAmt !== 0)
      .map((p) => ({ symbol: p.symbol, quantity: p.positionAmt, entryPrice: p.entryPrice })),
    orders: orders
      .filter((o) => traded.has(o.symbol))
      .map((o) => ({
        symbol: o.symbol,
        clientOrderId: o.clientOrderId,
        type: o.origType ?? o.type,
        side: o.side as Side,
        stopPrice: o.stopPrice ?? 0,
        origQty: o.origQty ?? 0,
        closePosition: o.closePosition === true,
        reduceOnly: o.reduceOnly === true,
        time: o.time ?? o.updateTime ?? 0,
      })),
  };
}
