import { describe, expect, it } from 'vitest';
import type { Fill, Order } from '../../../pipelines/model/index.ts';
import type { AsterOrder, AsterUserTrade } from '../../../live/aster/schemas.ts';
import { beyondKnown, tradeEvents } from '../../../live/aster/fill-catch-up.ts';
import { mergeRestartFills, restartSince } from '../../../live/aster/restart-catch-up.ts';
import type { OrderUpdate } from '../../../live/aster/user-events.ts';

/** The catch-up's kernels: which trades read back are new to the journal, and how they meet the lookups. */

const order = (executedQty: number): AsterOrder =>
  ({
    orderId: 7,
    symbol: 'BTCUSDT',
    clientOrderId: 'sapphire-exit-1',
    side: 'SELL',
    type: 'MARKET',
    status: 'FILLED',
    origQty: 0.03,
    executedQty,
    avgPrice: 100,
    reduceOnly: true,
  }) as AsterOrder;

const trade = (id: number, qty: number, time: number): AsterUserTrade =>
  ({ id, orderId: 7, symbol: 'BTCUSDT', side: 'SELL', price: 100 + id, qty, commission: 0.01, time }) as AsterUserTrade;

const trades = [trade(1, 0.01, 1_000), trade(2, 0.01, 2_000), trade(3, 0.01, 3_000)];

describe('beyondKnown', () => {
  it('keeps only the quantity beyond what the journal holds for the client order id', () => {
    const events = tradeEvents(trades, [order(0.03)], 0);
    expect(events.map((e) => (e.event as OrderUpdate).cumQty)).toEqual(
      [0.01, 0.02, 0.03].map((q) => expect.closeTo(q, 12)),
    );
    // nothing journaled: all three; all journaled: none
    expect(beyondKnown(events, new Map())).toHaveLength(3);
    expect(beyondKnown(events, new Map([['sapphire-exit-1', 0.03]]))).toHaveLength(0);
    // the journal holds 0.015 (a remainder fill from an earlier lookup): half of trade 2, all of trade 3
    const kept = beyondKnown(events, new Map([['sapphire-exit-1', 0.015]]));
    expect(kept.map((e) => (e.event as OrderUpdate).tradeId)).toEqual([2, 3]);
    expect((kept[0]!.event as OrderUpdate).lastQty).toBeCloseTo(0.005, 12);
    expect((kept[1]!.event as OrderUpdate).lastQty).toBeCloseTo(0.01, 12);
  });

  it('trades before `since` are not read, yet the cumulative quantity of a later one stays right', () => {
    const events = tradeEvents(trades, [order(0.03)], 2_500);
    expect(events).toHaveLength(1);
    expect((events[0]!.event as OrderUpdate).cumQty).toBeCloseTo(0.03, 12);
    // the journal has the first two trades: the third is new
    expect(beyondKnown(events, new Map([['sapphire-exit-1', 0.02]]))).toHaveLength(1);
  });
});

describe('mergeRestartFills', () => {
  const exit: Order = {
    kind: 'order',
    time: 500,
    symbol: 'BTCUSDT',
    clientOrderId: 'sapphire-exit-1',
    side: 'SELL',
    type: 'MARKET',
    quantity: 0.03,
    reduceOnly: true,
    stopPrice: 0,
    refPrice: 100,
    maxSlippageBps: 0,
    reason: 'exit',
  } as Order;
  const remainder: Fill = {
    kind: 'fill',
    time: 3_000,
    symbol: 'BTCUSDT',
    clientOrderId: 'sapphire-exit-1',
    side: 'SELL',
    quantity: 0.03,
    price: 100,
    fee: 0.3,
    liquidity: 'taker',
    reason: 'exit',
  };

  it('a trade read back replaces its part of the lookup remainder; what no trade explains stays', () => {
    const updates = beyondKnown(tradeEvents(trades, [order(0.03)], 1_500), new Map()).map(
      (e) => e.event as OrderUpdate,
    );
    const merged = mergeRestartFills([remainder], updates, [{ order: exit }]);
    const fills = merged.filter((e): e is Fill => e.kind === 'fill');
    // trades 2 and 3 at their own prices, with the journal's reason; 0.01 of the remainder left
    expect(fills.map((f) => [f.quantity, f.price, f.reason])).toEqual([
      [0.01, 102, 'exit'],
      [0.01, 103, 'exit'],
      [expect.closeTo(0.01, 12), 100, 'exit'],
    ]);
    expect(fills.reduce((a, f) => a + f.quantity, 0)).toBeCloseTo(0.03, 12);
    expect(fills[2]!.fee).toBeCloseTo(0.1, 12);
  });

  it('reads from the older of the journal last fill and the lookup remainders, less the slack', () => {
    expect(restartSince({ filled: new Map(), lastFillTime: 9_000 }, [remainder], 50_000, 1_000)).toBe(2_000);
    expect(restartSince({ filled: new Map(), lastFillTime: -Infinity }, [], 50_000, 1_000)).toBe(49_000);
  });
});
