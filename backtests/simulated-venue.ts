import type { Observable, OperatorFunction } from 'rxjs';
import { defineOperator } from '../pipelines/operator-kit.ts';
import type {
  Bar,
  Fill,
  FundingPayment,
  FundingRate,
  Order,
  OrderRejected,
  SymbolFilters,
} from '../pipelines/model/index.ts';
import type { ExecutionPort, VenueEvent } from '../pipelines/ports.ts';
import { marketQuantity } from '../operators/execution/precision.kernel.ts';
import {
  fundingTimesBetween,
  slipped,
  slippageBps,
  stopTriggerPrice,
  takeProfitTriggerPrice,
} from './fill-model.kernel.ts';
import type { BacktestSettings } from './backtest.settings.ts';

export interface SimulatedVenueDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
  /** funding history; symbols or times it lacks use FUNDING_RATE */
  fundingRates?: readonly FundingRate[];
}

interface SymbolBook {
  position: number;
  market: Order[];
  stop: Order | null;
  takeProfit: Order | null;
  lastOpenTime: number;
}

/**
 * The backtest venue. An order decided at a bar's close reaches the venue LATENCY_MS later and
 * fills at the open of the first bar of its symbol that starts at or after that moment — never on
 * the bar that produced it. Protective stop/take-profit orders work inside each bar (after any
 * entry at its open), conservatively. Funding is settled every 8 h on the position held.
 */
export function simulatedVenue(
  s: Pick<BacktestSettings, 'TAKER_FEE' | 'SLIPPAGE_BPS' | 'LATENCY_MS' | 'FUNDING_RATE'>,
  deps: SimulatedVenueDeps,
): ExecutionPort {
  const fundingBySymbol = new Map<string, Map<number, number>>();
  for (const f of deps.fundingRates ?? []) {
    let m = fundingBySymbol.get(f.symbol);
    if (m === undefined) fundingBySymbol.set(f.symbol, (m = new Map()));
    m.set(f.fundingTime, f.rate);
  }
  const fundingRate = (symbol: string, time: number): number =>
    fundingBySymbol.get(symbol)?.get(time) ?? s.FUNDING_RATE;

  return {
    attach(orders: Observable<Order>): OperatorFunction<Bar, Bar | VenueEvent> {
      return defineOperator<Bar, Bar | VenueEvent>((emit) => {
        const books = new Map<string, SymbolBook>();
        const book = (symbol: string): SymbolBook => {
          let b = books.get(symbol);
          if (b === undefined)
            books.set(symbol, (b = { position: 0, market: [], stop: null, takeProfit: null, lastOpenTime: -Infinity }));
          return b;
        };
        const reject = (o: Order, time: number, reason: string): void => {
          const r: OrderRejected = {
            kind: 'order-rejected',
            time,
            symbol: o.symbol,
            clientOrderId: o.clientOrderId,
            reason,
          };
          emit(r);
        };
        const fill = (
          o: Order,
          b: SymbolBook,
          side: 'BUY' | 'SELL',
          qty: number,
          price: number,
          time: number,
        ): void => {
          b.position += side === 'BUY' ? qty : -qty;
          if (Math.abs(b.position) < 1e-12) b.position = 0;
          const f: Fill = {
            kind: 'fill',
            time,
            symbol: o.symbol,
            clientOrderId: o.clientOrderId,
            side,
            quantity: qty,
            price,
            fee: qty * price * s.TAKER_FEE,
            liquidity: 'taker',
            reason: o.reason,
            explored: o.explored === true,
          };
          emit(f);
        };

        const fillMarket = (o: Order, b: SymbolBook, bar: Bar): void => {
          const price = slipped(bar.open, o.side, s.SLIPPAGE_BPS);
          let qty = o.quantity;
          if (o.reduceOnly) {
            const closing = o.side === 'BUY' ? -b.position : b.position;
            if (closing <= 0) return reject(o, bar.openTime, 'reduce-only order with no position to reduce');
            qty = Math.min(qty, closing);
          } else if (o.maxSlippageBps > 0 && slippageBps(price, o.refPrice) > o.maxSlippageBps) {
            return reject(
              o,
              bar.openTime,
              `slippage guard: fill ${price} is ${slippageBps(price, o.refPrice).toFixed(1)} bps from ${o.refPrice}, limit ${o.maxSlippageBps}`,
            );
          }
          const filters = deps.filters.get(o.symbol);
          if (filters !== undefined && !o.reduceOnly) {
            const q = marketQuantity(filters, qty, price);
            if (!q.ok) return reject(o, bar.openTime, q.reason);
          }
          fill(o, b, o.side, qty, price, bar.openTime);
        };

        const runProtective = (b: SymbolBook, bar: Bar): void => {
          if (b.position === 0) return;
          const side: 1 | -1 = b.position > 0 ? 1 : -1;
          const closeSide = side === 1 ? 'SELL' : 'BUY';
          const live = (o: Order | null): o is Order =>
            o !== null && o.side === closeSide && o.time + s.LATENCY_MS <= bar.openTime;
          const stopAt = live(b.stop) ? stopTriggerPrice(side, b.stop!.stopPrice, bar) : Number.NaN;
          const tpAt = live(b.takeProfit) ? takeProfitTriggerPrice(side, b.takeProfit!.stopPrice, bar) : Number.NaN;
          // both touched inside one bar: the path is unknown, so assume the stop came first
          const order = !Number.isNaN(stopAt) ? b.stop : !Number.isNaN(tpAt) ? b.takeProfit : null;
          if (order === null) return;
          const trigger = !Number.isNaN(stopAt) ? stopAt : tpAt;
          fill(order, b, closeSide, Math.abs(b.position), slipped(trigger, closeSide, s.SLIPPAGE_BPS), bar.time);
          b.stop = null;
          b.takeProfit = null;
        };

        const isDue = (o: Order | null, bar: Bar): boolean => o !== null && o.time + s.LATENCY_MS <= bar.openTime;
        const settleFunding = (b: SymbolBook, bar: Bar): void => {
          for (const t of fundingTimesBetween(b.lastOpenTime, bar.openTime)) {
            const rate = fundingRate(bar.symbol, t);
            const payment: FundingPayment = {
              kind: 'funding',
              time: t,
              symbol: bar.symbol,
              rate,
              positionQty: b.position,
              markPrice: bar.open,
              amount: rate * b.position * bar.open,
            };
            emit(payment);
          }
        };

        const orderSubscription = orders.subscribe({
          next(o) {
            const b = book(o.symbol);
            if (o.type === 'MARKET') b.market.push(o);
            else if (o.type === 'STOP_MARKET') b.stop = o;
            else b.takeProfit = o;
          },
        });

        return {
          next(bar) {
            const b = book(bar.symbol);
            if (b.position !== 0) settleFunding(b, bar);
            b.lastOpenTime = bar.openTime;
            if (b.market.length > 0) {
              const due: Order[] = [];
              const later: Order[] = [];
              for (const o of b.market) (o.time + s.LATENCY_MS <= bar.openTime ? due : later).push(o);
              b.market = later;
              for (const o of due) fillMarket(o, b, bar);
            }
            if (b.stop !== null || b.takeProfit !== null) {
              if (b.position === 0 && b.market.length === 0) {
                // the position they guarded is gone (or never filled): they expire once due
                if (isDue(b.stop, bar) || isDue(b.takeProfit, bar)) {
                  b.stop = null;
                  b.takeProfit = null;
                }
              } else {
                runProtective(b, bar);
              }
            }
            emit(bar);
          },
          teardown: () => orderSubscription.unsubscribe(),
        };
      });
    },
  };
}
