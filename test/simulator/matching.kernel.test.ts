import { describe, expect, it } from 'vitest';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { asterFilters } from '../../pipelines/instruments.ts';
import { roundToTick } from '../../operators/execution/precision.kernel.ts';
import {
  applyFunding,
  barPath,
  cancelOrder,
  createEngine,
  fillAtMarket,
  onBar,
  placeOrder,
  type Engine,
  type EngineEvent,
  type OrderRequest,
} from '../../simulator/matching.kernel.ts';

const BTC = fixtureColumns('BTCUSDT');
const F = asterFilters().get('BTCUSDT')!;
const TICK = F.tickSize;
const bar = (i: number) => ({ open: BTC.open[i]!, high: BTC.high[i]!, low: BTC.low[i]!, close: BTC.close[i]! });
const p = (x: number): string => x.toFixed(1);

function engineAt(i: number, opts: { slippageBps?: number; balance?: number } = {}): Engine {
  const e = createEngine({
    filters: new Map([['BTCUSDT', F]]),
    takerFee: 0.00035,
    makerFee: 0.0001,
    slippageBps: opts.slippageBps ?? 0,
    initialBalance: opts.balance ?? 100_000,
    defaultLeverage: 20,
    maxNumOrders: 200,
    maxNumAlgoOrders: 10,
  });
  onBar(e, 'BTCUSDT', bar(i), 0);
  return e;
}

function place(e: Engine, req: Partial<OrderRequest> & Pick<OrderRequest, 'side' | 'type'>, t = 1) {
  const r = placeOrder(e, 'acct', { symbol: 'BTCUSDT', ...req }, t);
  if (!r.ok) throw new Error(`rejected ${r.code} ${r.msg}`);
  return r;
}

function rejection(e: Engine, req: Partial<OrderRequest> & Pick<OrderRequest, 'side' | 'type'>): number {
  const r = placeOrder(e, 'acct', { symbol: 'BTCUSDT', ...req }, 1);
  return r.ok ? 0 : r.code;
}

/** first index j > i where pred(bar j) holds, walking the real bars */
function findBar(from: number, pred: (j: number) => boolean): number {
  for (let j = from; j < BTC.length; j++) if (pred(j)) return j;
  throw new Error('no such bar in the fixture');
}

const fills = (events: EngineEvent[]) => events.filter((x) => x.kind === 'order' && x.execType === 'TRADE');

describe('matching kernel', () => {
  it('walks a rising bar open→low→high→close and a falling one open→high→low→close', () => {
    expect(barPath({ open: 1, high: 3, low: 0.5, close: 2 })).toEqual([1, 0.5, 3, 2]);
    expect(barPath({ open: 2, high: 3, low: 0.5, close: 1 })).toEqual([2, 3, 0.5, 1]);
  });

  it('fills MARKET at the latest close ± slippage, charges taker fee, opens a position', () => {
    const e = engineAt(10, { slippageBps: 5 });
    const last = BTC.close[10]!;
    const r = place(e, { side: 'BUY', type: 'MARKET', quantity: '0.010' });
    expect(r.order.status).toBe('FILLED');
    const px = roundToTick(last * 1.0005, TICK, 'up');
    expect(r.order.avgPrice).toBeCloseTo(px, 6);
    const a = e.accounts.get('acct')!;
    expect(a.positions.get('BTCUSDT')!.amount).toBeCloseTo(0.01, 10);
    expect(a.positions.get('BTCUSDT')!.entryPrice).toBeCloseTo(px, 6);
    expect(a.balance).toBeCloseTo(100_000 - 0.01 * px * 0.00035, 8);
    // sell back at the same bar: realised PnL = qty × (sell − buy), both fees paid
    const s = place(e, { side: 'SELL', type: 'MARKET', quantity: '0.010' });
    const sp = roundToTick(last * 0.9995, TICK, 'down');
    expect(s.order.avgPrice).toBeCloseTo(sp, 6);
    expect(a.positions.get('BTCUSDT')!.amount).toBe(0);
    expect(a.fills[1]!.realizedPnl).toBeCloseTo(0.01 * (sp - px), 8);
    expect(a.balance).toBeCloseTo(100_000 + 0.01 * (sp - px) - 0.01 * (px + sp) * 0.00035, 8);
  });

  it('rests a LIMIT BUY below the market and fills it at its price (maker) when a later bar trades down to it', () => {
    const i = 20;
    const e = engineAt(i);
    // a real later bar whose low is below the current close, and no bar in between reaching it
    const j = findBar(i + 1, (j) => BTC.low[j]! < BTC.close[i]! * 0.999);
    let minLow = Infinity;
    for (let k = i + 1; k < j; k++) minLow = Math.min(minLow, BTC.low[k]!);
    const limit = roundToTick(Math.max(BTC.low[j]!, BTC.close[i]! * 0.999), TICK, 'up');
    expect(limit).toBeLessThan(minLow);
    const r = place(e, { side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.002', price: p(limit) });
    expect(r.order.status).toBe('NEW');
    for (let k = i + 1; k < j; k++) expect(fills(onBar(e, 'BTCUSDT', bar(k), k))).toHaveLength(0);
    const ev = fills(onBar(e, 'BTCUSDT', bar(j), j));
    expect(ev).toHaveLength(1);
    const f = e.accounts.get('acct')!.fills[0]!;
    expect(f.maker).toBe(true);
    // fills at the limit, or at the open if the bar gapped through it
    expect(f.price).toBeCloseTo(Math.min(limit, BTC.open[j]!), 6);
    expect(f.commission).toBeCloseTo(f.price * 0.002 * 0.0001, 10);
  });

  it('rejects IOC/FOK/GTX the way the exchange does', () => {
    const e = engineAt(30);
    const last = BTC.close[30]!;
    const below = p(roundToTick(last * 0.99, TICK, 'down'));
    const above = p(roundToTick(last * 1.01, TICK, 'up'));
    const ioc = place(e, { side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: '0.001', price: below });
    expect(ioc.order.status).toBe('EXPIRED');
    const fok = place(e, { side: 'BUY', type: 'LIMIT', timeInForce: 'FOK', quantity: '0.001', price: above });
    expect(fok.order.status).toBe('FILLED');
    expect(fok.order.avgPrice).toBeCloseTo(last, 6);
    expect(rejection(e, { side: 'BUY', type: 'LIMIT', timeInForce: 'GTX', quantity: '0.001', price: above })).toBe(
      -5022,
    );
  });

  it('triggers STOP_MARKET BUY when a bar trades at or above the stop, and TAKE_PROFIT_MARKET SELL likewise', () => {
    const i = 40;
    const e = engineAt(i);
    const last = BTC.close[i]!;
    const j = findBar(i + 1, (j) => BTC.high[j]! > last * 1.002);
    let maxHigh = -Infinity;
    for (let k = i + 1; k < j; k++) maxHigh = Math.max(maxHigh, BTC.high[k]!);
    const stop = roundToTick(Math.max(last * 1.002, maxHigh + TICK), TICK, 'up');
    if (stop > BTC.high[j]!) throw new Error('fixture does not fit');
    place(e, { side: 'BUY', type: 'STOP_MARKET', stopPrice: p(stop), quantity: '0.001' });
    // a SELL take-profit on the same level (needs a position; reduce-only is not required for TP)
    place(e, { side: 'SELL', type: 'TAKE_PROFIT_MARKET', stopPrice: p(stop), quantity: '0.001' });
    for (let k = i + 1; k < j; k++) expect(fills(onBar(e, 'BTCUSDT', bar(k), k))).toHaveLength(0);
    const ev = fills(onBar(e, 'BTCUSDT', bar(j), j));
    expect(ev).toHaveLength(2);
    const fs = e.accounts.get('acct')!.fills;
    const trig = BTC.open[j]! >= stop ? BTC.open[j]! : stop;
    for (const f of fs) expect(f.price).toBeCloseTo(trig, 6);
    expect(fs.every((f) => !f.maker)).toBe(true);
  });

  it('rejects stops that would immediately trigger (-2021) and bad filters with Aster codes', () => {
    const e = engineAt(50);
    const last = BTC.close[50]!;
    expect(rejection(e, { side: 'BUY', type: 'STOP_MARKET', stopPrice: p(last - 10), quantity: '0.001' })).toBe(-2021);
    expect(rejection(e, { side: 'SELL', type: 'STOP_MARKET', stopPrice: p(last + 10), quantity: '0.001' })).toBe(-2021);
    expect(rejection(e, { side: 'BUY', type: 'TAKE_PROFIT_MARKET', stopPrice: p(last + 10), quantity: '0.001' })).toBe(
      -2021,
    );
    expect(rejection(e, { side: 'BUY', type: 'MARKET', quantity: '0.0001' })).toBe(-1111);
    expect(rejection(e, { side: 'BUY', type: 'MARKET', quantity: '0.000' })).toBe(-4003);
    expect(
      rejection(e, { side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '100000.05' }),
    ).toBe(-1111);
    expect(rejection(e, { side: 'BUY', type: 'MARKET', quantity: '121' })).toBe(-4005);
    // 0.001 × ~100k ≈ 100 ≥ 5 passes; a far lower limit price fails the percent-price filter first
    expect(
      rejection(e, { side: 'SELL', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: p(last * 0.5) }),
    ).toBe(-4024);
    expect(
      rejection(e, {
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.001',
        price: p(roundToTick(last * 1.05, TICK, 'up')),
      }),
    ).toBe(-4016);
    expect(rejection(e, { side: 'BUY', type: 'MARKET', quantity: '30' })).toBe(-2019);
    expect(rejection(e, { side: 'SELL', type: 'MARKET', quantity: '0.001', reduceOnly: true })).toBe(-2022);
    expect(
      rejection(e, {
        side: 'SELL',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.001',
        price: p(last),
        reduceOnly: true,
      }),
    ).toBe(-2022);
  });

  it('refuses a duplicate client order id while the first is open, accepts it again after cancel', () => {
    const e = engineAt(60);
    const below = p(roundToTick(BTC.close[60]! * 0.99, TICK, 'down'));
    const req = {
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.001',
      price: below,
      clientOrderId: 'dup-1',
    } as const;
    const first = place(e, req);
    expect(rejection(e, req)).toBe(-4116);
    const c = cancelOrder(e, 'acct', 'BTCUSDT', first.order.orderId, undefined, 2);
    expect(c.ok).toBe(true);
    expect(place(e, req).order.orderId).not.toBe(first.order.orderId);
  });

  it('TRAILING_STOP_MARKET SELL fires when the price falls callbackRate% from the highest since placement', () => {
    const i = 100;
    const e = engineAt(i);
    const cb = 0.3; // %
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.002' });
    place(e, {
      side: 'SELL',
      type: 'TRAILING_STOP_MARKET',
      callbackRate: String(cb),
      quantity: '0.002',
      reduceOnly: true,
    });
    // replay real bars with an independent reference of the rule, until it fires
    let highest = BTC.close[i]!;
    let expected: number | undefined;
    let firedAt = -1;
    for (let k = i + 1; k < BTC.length && firedAt < 0; k++) {
      for (const [a, b] of segments(BTC.close[k - 1]!, bar(k))) {
        if (b < a) {
          const stop = highest * (1 - cb / 100);
          if (b <= stop) {
            expected = a <= stop ? a : stop;
            break;
          }
        }
        highest = Math.max(highest, b);
      }
      const ev = fills(onBar(e, 'BTCUSDT', bar(k), k));
      if (expected !== undefined) {
        firedAt = k;
        expect(ev).toHaveLength(1);
      } else expect(ev).toHaveLength(0);
    }
    expect(firedAt).toBeGreaterThan(i);
    const f = e.accounts.get('acct')!.fills[1]!;
    expect(f.price).toBeCloseTo(roundToTick(expected!, TICK, 'down'), 6);
    expect(e.accounts.get('acct')!.positions.get('BTCUSDT')!.amount).toBe(0);
  });

  it('STOP (limit) BUY triggers at the stop and then rests or takes at its limit price', () => {
    const i = 60;
    const e = engineAt(i);
    const last = BTC.close[i]!;
    const j = findBar(i + 1, (j) => BTC.high[j]! > last * 1.002);
    let maxHigh = -Infinity;
    for (let k = i + 1; k < j; k++) maxHigh = Math.max(maxHigh, BTC.high[k]!);
    const stop = roundToTick(Math.max(last * 1.002, maxHigh + TICK), TICK, 'up');
    if (stop > BTC.high[j]!) throw new Error('fixture does not fit');
    // limit well above the stop: marketable at the trigger → takes at the trigger price
    const hiLimit = roundToTick(stop * 1.005, TICK, 'up');
    const a = place(e, { side: 'BUY', type: 'STOP', stopPrice: p(stop), price: p(hiLimit), quantity: '0.001' });
    // limit below the stop and below every price until the trigger bar's close: triggers, then rests
    const loLimit = roundToTick(Math.min(BTC.low[j]!, BTC.close[j]!) - 50, TICK, 'down');
    const b = place(e, { side: 'BUY', type: 'STOP', stopPrice: p(stop), price: p(loLimit), quantity: '0.001' });
    for (let k = i + 1; k <= j; k++) onBar(e, 'BTCUSDT', bar(k), k);
    const trig = BTC.open[j]! >= stop ? BTC.open[j]! : stop;
    expect(a.order.status).toBe('FILLED');
    expect(a.order.avgPrice).toBeCloseTo(trig, 6);
    expect(b.order.status).toBe('NEW');
    expect(b.order.triggered).toBe(true);
  });

  it('TAKE_PROFIT (limit) SELL triggers when the price rises to the stop', () => {
    const i = 70;
    const e = engineAt(i);
    const last = BTC.close[i]!;
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.001' });
    const j = findBar(i + 1, (j) => BTC.high[j]! > last * 1.002);
    let maxHigh = -Infinity;
    for (let k = i + 1; k < j; k++) maxHigh = Math.max(maxHigh, BTC.high[k]!);
    const stop = roundToTick(Math.max(last * 1.002, maxHigh + TICK), TICK, 'up');
    if (stop > BTC.high[j]!) throw new Error('fixture does not fit');
    expect(
      rejection(e, { side: 'SELL', type: 'TAKE_PROFIT', stopPrice: p(last - 10), price: p(last), quantity: '0.001' }),
    ).toBe(-2021);
    const tp = place(e, {
      side: 'SELL',
      type: 'TAKE_PROFIT',
      stopPrice: p(stop),
      price: p(stop),
      quantity: '0.001',
      reduceOnly: true,
    });
    for (let k = i + 1; k < j; k++) onBar(e, 'BTCUSDT', bar(k), k);
    expect(tp.order.status).toBe('NEW');
    onBar(e, 'BTCUSDT', bar(j), j);
    expect(tp.order.status).toBe('FILLED');
    expect(tp.order.avgPrice).toBeGreaterThanOrEqual(stop);
    expect(e.accounts.get('acct')!.positions.get('BTCUSDT')!.amount).toBe(0);
  });

  it('TRAILING_STOP_MARKET BUY waits for its activation price, then fires callbackRate% above the lowest', () => {
    const i = 150;
    const e = engineAt(i);
    const last = BTC.close[i]!;
    const cb = 0.2;
    const act = roundToTick(last * 0.998, TICK, 'down');
    expect(
      rejection(e, {
        side: 'BUY',
        type: 'TRAILING_STOP_MARKET',
        callbackRate: '0.2',
        activationPrice: p(last + 10),
        quantity: '0.001',
      }),
    ).toBe(-2021);
    expect(rejection(e, { side: 'BUY', type: 'TRAILING_STOP_MARKET', callbackRate: '9', quantity: '0.001' })).toBe(
      -2007,
    );
    const t = place(e, {
      side: 'BUY',
      type: 'TRAILING_STOP_MARKET',
      callbackRate: String(cb),
      activationPrice: p(act),
      quantity: '0.001',
    });
    expect(t.order.activatePrice).toBe(act);
    let lowest = last;
    let activated = false;
    let expected: number | undefined;
    for (let k = i + 1; k < BTC.length && expected === undefined; k++) {
      for (const [a, b] of segments(BTC.close[k - 1]!, bar(k))) {
        if (b > a && activated) {
          const stop = lowest * (1 + cb / 100);
          if (b >= stop) {
            expected = a >= stop ? a : stop;
            break;
          }
        }
        lowest = Math.min(lowest, b);
        if (lowest <= act) activated = true;
      }
      onBar(e, 'BTCUSDT', bar(k), k);
      expect(t.order.status).toBe(expected === undefined ? 'NEW' : 'FILLED');
    }
    expect(expected).toBeDefined();
    expect(t.order.avgPrice).toBeCloseTo(roundToTick(expected!, TICK, 'up'), 6);
  });

  it('closePosition STOP_MARKET closes the whole position; reduce-only with nothing to reduce expires', () => {
    const i = 200;
    const e = engineAt(i);
    const last = BTC.close[i]!;
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.003' });
    const j = findBar(i + 1, (j) => BTC.low[j]! < last * 0.998);
    let minLow = Infinity;
    for (let k = i + 1; k < j; k++) minLow = Math.min(minLow, BTC.low[k]!);
    const stop = roundToTick(Math.min(last * 0.998, minLow - TICK), TICK, 'down');
    const sl = place(e, { side: 'SELL', type: 'STOP_MARKET', stopPrice: p(stop), closePosition: true });
    for (let k = i + 1; k <= j; k++) onBar(e, 'BTCUSDT', bar(k), k);
    const a = e.accounts.get('acct')!;
    expect(a.orders.get(sl.order.orderId)!.status).toBe('FILLED');
    expect(a.orders.get(sl.order.orderId)!.executedQty).toBeCloseTo(0.003, 10);
    expect(a.positions.get('BTCUSDT')!.amount).toBe(0);
    // a reduce-only stop placed while flat: when it triggers there is nothing to reduce → EXPIRED
    const last2 = BTC.close[j]!;
    const k2 = findBar(j + 1, (k) => BTC.high[k]! > last2 * 1.001);
    let maxHigh = -Infinity;
    for (let k = j + 1; k < k2; k++) maxHigh = Math.max(maxHigh, BTC.high[k]!);
    const stop2 = roundToTick(Math.max(last2 * 1.001, maxHigh + TICK), TICK, 'up');
    if (stop2 <= BTC.high[k2]!) {
      const ro = place(e, {
        side: 'BUY',
        type: 'STOP_MARKET',
        stopPrice: p(stop2),
        quantity: '0.001',
        reduceOnly: true,
      });
      for (let k = j + 1; k <= k2; k++) onBar(e, 'BTCUSDT', bar(k), k);
      expect(a.orders.get(ro.order.orderId)!.status).toBe('EXPIRED');
    }
  });

  it('keeps one-way accounting: adds average the entry, a flip realises and reopens at the fill price', () => {
    const e = engineAt(300);
    const a = () => e.accounts.get('acct')!;
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.002' });
    const p1 = BTC.close[300]!;
    onBar(e, 'BTCUSDT', bar(301), 301);
    const p2 = BTC.close[301]!;
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.001' });
    const pos = a().positions.get('BTCUSDT')!;
    expect(pos.entryPrice).toBeCloseTo((0.002 * p1 + 0.001 * p2) / 0.003, 6);
    onBar(e, 'BTCUSDT', bar(302), 302);
    const p3 = BTC.close[302]!;
    const entry = pos.entryPrice;
    place(e, { side: 'SELL', type: 'MARKET', quantity: '0.005' });
    expect(pos.amount).toBeCloseTo(-0.002, 10);
    expect(pos.entryPrice).toBeCloseTo(p3, 6);
    expect(a().fills.at(-1)!.realizedPnl).toBeCloseTo(0.003 * (p3 - entry), 8);
  });

  it('funding: a long pays rate × notional when the rate is positive, a short receives it', () => {
    const e = engineAt(400);
    place(e, { side: 'BUY', type: 'MARKET', quantity: '0.010' });
    const before = e.accounts.get('acct')!.balance;
    const mark = BTC.close[400]!;
    const ev = applyFunding(e, 'BTCUSDT', 0.0001, mark, 5);
    expect(ev).toHaveLength(1);
    expect(e.accounts.get('acct')!.balance).toBeCloseTo(before - 0.01 * mark * 0.0001, 10);
    place(e, { side: 'SELL', type: 'MARKET', quantity: '0.020' });
    const b2 = e.accounts.get('acct')!.balance;
    applyFunding(e, 'BTCUSDT', 0.0001, mark, 6);
    expect(e.accounts.get('acct')!.balance).toBeCloseTo(b2 + 0.01 * mark * 0.0001, 10);
  });

  it('a deferred MARKET order fills later, possibly in parts', () => {
    const e = engineAt(500);
    const r = placeOrder(e, 'acct', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.004' }, 1, {
      deferFill: true,
    });
    if (!r.ok) throw new Error('rejected');
    expect(r.order.status).toBe('NEW');
    const ev1 = fillAtMarket(e, r.order.orderId, 0.5, 2);
    expect(fills(ev1)).toHaveLength(1);
    expect(r.order.status).toBe('PARTIALLY_FILLED');
    expect(r.order.executedQty).toBeCloseTo(0.002, 10);
    fillAtMarket(e, r.order.orderId, 1, 3);
    expect(r.order.status).toBe('FILLED');
    expect(r.order.executedQty).toBeCloseTo(0.004, 10);
  });
});

/** the same segments the kernel walks, written out independently: gap, then the bar path */
function segments(
  prevClose: number,
  b: { open: number; high: number; low: number; close: number },
): [number, number][] {
  const path = b.close >= b.open ? [b.open, b.low, b.high, b.close] : [b.open, b.high, b.low, b.close];
  const out: [number, number][] = [];
  let a = prevClose;
  for (const x of path) {
    out.push([a, x]);
    a = x;
  }
  return out;
}

describe('matching kernel accounting (property)', () => {
  it('wallet = initial + realised − fees + funding, and position = signed sum of fills, for random order flows', async () => {
    const fc = await import('fast-check');
    const step = fc.record({
      side: fc.constantFrom('BUY' as const, 'SELL' as const),
      type: fc.constantFrom('MARKET' as const, 'LIMIT' as const, 'STOP_MARKET' as const, 'TAKE_PROFIT_MARKET' as const),
      qtyUnits: fc.integer({ min: 1, max: 20 }),
      offsetBps: fc.integer({ min: 5, max: 80 }),
      reduceOnly: fc.boolean(),
      bars: fc.integer({ min: 0, max: 6 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900 }), fc.array(step, { minLength: 1, maxLength: 25 }), (start, steps) => {
        const e = engineAt(start);
        let k = start;
        let funding = 0;
        for (const s of steps) {
          const last = e.last.get('BTCUSDT')!;
          const away = s.offsetBps / 10_000;
          const up = p(roundToTick(last * (1 + away), TICK, 'up'));
          const down = p(roundToTick(last * (1 - away), TICK, 'down'));
          const req: Partial<OrderRequest> & Pick<OrderRequest, 'side' | 'type'> = {
            side: s.side,
            type: s.type,
            quantity: (s.qtyUnits / 1000).toFixed(3),
            reduceOnly: s.reduceOnly,
          };
          if (s.type === 'LIMIT') Object.assign(req, { timeInForce: 'GTC', price: s.side === 'BUY' ? down : up });
          const stopAbove = (s.type === 'STOP_MARKET') === (s.side === 'BUY');
          if (s.type !== 'MARKET' && s.type !== 'LIMIT') req.stopPrice = stopAbove ? up : down;
          placeOrder(e, 'acct', { symbol: 'BTCUSDT', ...req }, k);
          for (let b = 0; b < s.bars && k + 1 < BTC.length; b++) {
            k++;
            onBar(e, 'BTCUSDT', bar(k), k);
            if (b === 0) {
              const before = e.accounts.get('acct')!.balance;
              applyFunding(e, 'BTCUSDT', 0.0001, BTC.close[k]!, k);
              funding += e.accounts.get('acct')!.balance - before;
            }
          }
        }
        const a = e.accounts.get('acct')!;
        let realised = 0;
        let fees = 0;
        let amount = 0;
        for (const f of a.fills) {
          realised += f.realizedPnl;
          fees += f.commission;
          amount += f.side === 'BUY' ? f.qty : -f.qty;
        }
        expect(a.balance).toBeCloseTo(100_000 + realised - fees + funding, 6);
        expect(a.positions.get('BTCUSDT')?.amount ?? 0).toBeCloseTo(amount, 9);
        // nothing filled beyond its order, and every open order is really open
        for (const o of a.orders.values()) expect(o.executedQty).toBeLessThanOrEqual(o.origQty + 1e-9);
        for (const o of e.open.get('BTCUSDT')?.values() ?? []) expect(['NEW', 'PARTIALLY_FILLED']).toContain(o.status);
      }),
      { numRuns: 150, seed: 42 },
    );
  });
});
