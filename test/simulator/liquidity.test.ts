import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns, Fill } from '../../pipelines/model/index.ts';
import { loadDataset, sliceColumns } from '../../backtests/data/index.ts';
import { asterFilters } from '../../pipelines/instruments.ts';
import { DEFAULT_LIQUIDITY } from '../../pipelines/liquidity/liquidity.settings.ts';
import {
  impactBps,
  levelQuantity,
  liquidityParams,
  quantityWithin,
  restingFillQuantity,
  walkPrice,
} from '../../pipelines/liquidity/liquidity.kernel.ts';
import { roundToTick } from '../../operators/execution/precision.kernel.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { barsOf, driveVenue, order } from '../kit/venue-kit.ts';
import { V1_KEY, V1_SECRET, v1 } from './kit.ts';

/**
 * The liquidity model on the shipped sample, BTCUSDT 2025-11-21: the 07:20 bar (2,334 BTC traded)
 * closes at 85,289.1, which is also the 07:25 open; 07:25 (842.5 BTC) stays above 85,160.8; 07:30
 * crashes through 84,000.
 */
const WINDOW = [Date.parse('2025-11-21T07:00:00Z'), Date.parse('2025-11-21T07:45:00Z')] as const;
const ENTRY_BAR = Date.parse('2025-11-21T07:20:00Z');
const MODEL = liquidityParams(DEFAULT_LIQUIDITY);
const BTC = asterFilters().get('BTCUSDT')!;

type Obj = Record<string, unknown>;
let btc: BarColumns;
let entry: number;
let sim: ExchangeSimulator | undefined;

beforeAll(async () => {
  const all = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT'] });
  btc = sliceColumns(all[0]!, WINDOW[0], WINDOW[1]);
  entry = btc.openTime.indexOf(ENTRY_BAR);
});
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function startSim(): Promise<string> {
  sim = await startExchangeSimulator({
    series: [btc],
    replayMs: 0,
    startIndex: entry,
    initialBalance: 1e9,
    defaultLeverage: 1,
    slippageBps: 0,
    takerFee: 0,
    makerFee: 0,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    // the bench of ORDERS and weight limits is not what is tested here
    orderLimitPer10s: 1e6,
  });
  return sim.restUrl;
}

async function placed(base: string, params: Record<string, string>): Promise<Obj> {
  const r = await v1(base, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', newOrderRespType: 'RESULT', ...params });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as Obj;
}

const levelAt = (i: number): number => levelQuantity(MODEL, btc.volume[i]!, BTC.minQty);

describe('liquidity kernel (pipelines/liquidity)', () => {
  it('the closed-form walk equals a level-by-level walk of the modelled book', () => {
    const level = 23.34377;
    for (const qty of [0.001, 1, 23.34377, 23.4, 50, 120, 1000]) {
      // naive: take each level in turn, k basis points from the touch
      let left = qty;
      let cost = 0;
      for (let k = 0; left > 1e-12 && k < 100_000; k++) {
        const take = Math.min(left, level);
        cost += take * k * MODEL.levelBps;
        left -= take;
      }
      expect(impactBps(MODEL, qty, level)).toBeCloseTo(cost / qty, 9);
    }
    expect(impactBps(MODEL, 1, level)).toBe(0); // within the first level: no impact
    expect(impactBps({ ...MODEL, levelShare: 0 }, 1e6, levelQuantity({ ...MODEL, levelShare: 0 }, 100, 0.001))).toBe(0);
  });
});

describe('exchange simulator: finite liquidity from the real bars', () => {
  it('a 120 BTC MARKET buy walks the book and pays impact; 0.01 BTC fills at the touch', async () => {
    const base = await startSim();
    const close = btc.close[entry]!;
    const small = await placed(base, { side: 'BUY', type: 'MARKET', quantity: '0.01' });
    expect(Number(small.avgPrice)).toBe(close);
    const big = await placed(base, { side: 'BUY', type: 'MARKET', quantity: '120' });
    expect(big.status).toBe('FILLED');
    const expected = roundToTick(walkPrice(MODEL, close, 'BUY', 120, levelAt(entry)), BTC.tickSize, 'up');
    expect(Number(big.avgPrice)).toBeCloseTo(expected, 6);
    // more than one tick above the displayed best ask: the impact is real, about 2 bp here
    expect(Number(big.avgPrice)).toBeGreaterThan(close + 10 * BTC.tickSize);
  });

  it('FOK is fill-or-kill; IOC takes what the levels within its price hold and expires the rest', async () => {
    const base = await startSim();
    const close = btc.close[entry]!;
    const limit = roundToTick(close * 1.0002, BTC.tickSize, 'down');
    const within = quantityWithin(MODEL, close, 'BUY', limit, levelAt(entry));
    expect(within).toBeLessThan(100);
    const fok = await placed(base, {
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'FOK',
      quantity: '100',
      price: String(limit),
    });
    expect(fok.status).toBe('EXPIRED');
    expect(Number(fok.executedQty)).toBe(0);
    const ioc = await placed(base, {
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'IOC',
      quantity: '100',
      price: String(limit),
    });
    expect(ioc.status).toBe('EXPIRED');
    expect(Number(ioc.executedQty)).toBeCloseTo(Math.floor(within / BTC.stepSize + 1e-9) * BTC.stepSize, 9);
    expect(Number(ioc.avgPrice)).toBeLessThanOrEqual(limit);
    expect(sim!.state().positions.find((p) => p.symbol === 'BTCUSDT')!.amount).toBeCloseTo(Number(ioc.executedQty), 9);
  });

  it('a resting limit only touched by the bar fills its queue share of the volume, not in full', async () => {
    const base = await startSim();
    const next = entry + 1;
    const low = btc.low[next]!;
    const o = await placed(base, { side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '5', price: String(low) });
    expect(o.status).toBe('NEW');
    sim!.advance(1);
    const bar = { open: btc.open[next]!, high: btc.high[next]!, low, volume: btc.volume[next]! };
    const share = restingFillQuantity(MODEL, 'BUY', low, bar, BTC.tickSize);
    const expected = Math.floor(share / BTC.stepSize + 1e-9) * BTC.stepSize;
    expect(expected).toBeGreaterThan(0);
    const now = sim!.state().orders.find((x) => x.orderId === o.orderId)!;
    expect(now.status).toBe('PARTIALLY_FILLED');
    expect(now.executedQty).toBeCloseTo(expected, 9);
    expect(now.avgPrice).toBe(low);
  });

  it('backtest venue and simulator agree: the same 40 BTC entry and stop on the same bars, same fills', async () => {
    const QTY = 40;
    const STOP = 84_000;
    const venue = driveVenue(
      { TAKER_FEE: 0, SLIPPAGE_BPS: 0, LATENCY_MS: 0, FUNDING_RATE: 0, INITIAL_BALANCE: 1e9, LEVERAGE: 1 },
      barsOf(btc),
      (_i, bar) =>
        bar.openTime === ENTRY_BAR
          ? [
              order({
                time: bar.time,
                symbol: 'BTCUSDT',
                side: 'BUY',
                type: 'MARKET',
                quantity: QTY,
                refPrice: bar.close,
              }),
              order({
                time: bar.time,
                symbol: 'BTCUSDT',
                side: 'SELL',
                type: 'STOP_MARKET',
                quantity: QTY,
                stopPrice: STOP,
              }),
            ]
          : [],
    ).filter((e): e is Fill => (e as Fill).kind === 'fill');
    expect(venue).toHaveLength(2);

    const base = await startSim();
    await placed(base, { side: 'BUY', type: 'MARKET', quantity: String(QTY) });
    await placed(base, {
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: String(QTY),
      stopPrice: String(STOP),
      reduceOnly: 'true',
    });
    sim!.advance(3);
    const fills = sim!.state().fills;
    expect(fills).toHaveLength(2);
    for (const [i, f] of fills.entries()) {
      expect(f.qty).toBe(venue[i]!.quantity);
      // the simulator rounds against the taker to the tick; the venue prints the model's exact average
      expect(Math.abs(f.price - venue[i]!.price)).toBeLessThan(BTC.tickSize);
    }
    // both paid impact: the entry above the 85,289.1 open, the stop below 84,000
    expect(venue[0]!.price).toBeGreaterThan(btc.open[entry + 1]!);
    expect(venue[1]!.price).toBeLessThan(STOP);
  });
});
