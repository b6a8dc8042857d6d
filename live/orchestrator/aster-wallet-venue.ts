import { SapphireError } from '../../pipelines/errors.ts';
import { AsterApiError, type AsterRestClient } from '../aster/rest-client.ts';
import type {
  VenueBalance,
  VenueOpenOrder,
  VenueOrderAck,
  VenueOrderParams,
  VenuePosition,
  WalletVenue,
} from './wallet-venue.ts';

const side = (s: string): 'BUY' | 'SELL' => (s === 'SELL' ? 'SELL' : 'BUY');

/**
 * The orchestrator's wallet over the Aster REST client. An exchange refusal becomes
 * EXCHANGE_REJECTED, an order whose outcome stays unknown EXCHANGE_UNAVAILABLE (the id is
 * never re-sent blind: the client looks it up first).
 */
export class AsterWalletVenue implements WalletVenue {
  readonly #client: AsterRestClient;
  readonly #asset: string;

  constructor(client: AsterRestClient, options: { asset?: string } = {}) {
    this.#client = client;
    this.#asset = options.asset ?? 'USDT';
  }

  async placeOrder(p: VenueOrderParams): Promise<VenueOrderAck> {
    const r = await this.#client.newOrder({
      symbol: p.symbol,
      side: p.side,
      type: p.type,
      newClientOrderId: p.newClientOrderId,
      ...(p.closePosition === true ? { closePosition: true } : { quantity: p.quantity }),
      ...(p.reduceOnly && p.closePosition !== true ? { reduceOnly: true } : {}),
      ...(p.price !== undefined ? { price: p.price } : {}),
      ...(p.stopPrice !== undefined ? { stopPrice: p.stopPrice } : {}),
      ...(p.type === 'LIMIT' || p.type === 'STOP' || p.type === 'TAKE_PROFIT'
        ? { timeInForce: p.timeInForce ?? 'GTC' }
        : {}),
      newOrderRespType: 'RESULT',
    });
    if (r.status === 'rejected') throw new SapphireError('EXCHANGE_REJECTED', `${p.symbol} order refused: ${r.reason}`);
    if (r.status === 'unknown') throw new SapphireError('EXCHANGE_UNAVAILABLE', `${p.symbol} order outcome unknown`);
    const o = r.order;
    return {
      orderId: String(o.orderId),
      clientOrderId: o.clientOrderId,
      status: o.status,
      executedQty: o.executedQty ?? 0,
      avgPrice: o.avgPrice ?? 0,
    };
  }

  async openOrders(symbol?: string): Promise<VenueOpenOrder[]> {
    const rows = await this.#client.openOrders(symbol);
    return rows.map((o) => ({
      symbol: o.symbol,
      orderId: String(o.orderId),
      clientOrderId: o.clientOrderId,
      side: side(o.side),
      type: o.type,
    }));
  }

  async cancelAll(symbol: string): Promise<void> {
    await this.#client.cancelAllOpenOrders(symbol);
  }

  async findOrder(symbol: string, clientOrderId: string): Promise<'present' | 'absent'> {
    try {
      await this.#client.queryOrder({ symbol, origClientOrderId: clientOrderId });
      return 'present';
    } catch (e) {
      if (e instanceof AsterApiError && e.exchangeCode === -2013) return 'absent';
      throw e;
    }
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<void> {
    await this.#client.cancelOrder({ symbol, origClientOrderId: clientOrderId });
  }

  async positions(): Promise<VenuePosition[]> {
    const rows = await this.#client.positionRisk();
    return rows
      .filter((p) => p.positionAmt !== 0)
      .map((p) => ({
        symbol: p.symbol,
        positionAmt: p.positionAmt,
        entryPrice: p.entryPrice,
        markPrice: p.markPrice ?? p.entryPrice,
        unrealizedPnl: p.unRealizedProfit ?? 0,
      }));
  }

  async balance(): Promise<VenueBalance> {
    const rows = await this.#client.balance();
    const b = rows.find((r) => r.asset === this.#asset);
    if (b === undefined) throw new SapphireError('EXCHANGE_PAYLOAD', `no ${this.#asset} balance in the account`);
    return {
      asset: b.asset,
      walletBalance: b.crossWalletBalance ?? b.balance,
      unrealizedPnl: b.crossUnPnl ?? 0,
      availableBalance: b.availableBalance,
    };
  }

  async markPrice(symbol: string): Promise<number> {
    return (await this.#client.premiumIndex(symbol)).markPrice;
  }
}
