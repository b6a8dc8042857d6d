import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns, FundingRate } from '../../pipelines/model/index.ts';
import { loadDataset, loadFundingFile } from '../../backtests/data/index.ts';
import {
  startExchangeSimulator,
  type ExchangeSimulator,
  type SimulatorOptions,
} from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, raw, v1 } from './kit.ts';

/** Market data and funding from the shipped real sample (data/sample, provenance there). */
const FUNDING_FILE = 'data/sample/funding/BTC-ETH-SOL-USDT-funding-2025-10-22_2026-02-19.csv';
const BAR = 300_000;
const DAY = 86_400_000;

type Obj = Record<string, unknown>;

let BTC: BarColumns;
let rates: FundingRate[];
beforeAll(async () => {
  BTC = (await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT'] }))[0]!;
  rates = loadFundingFile(FUNDING_FILE);
});

let sim: ExchangeSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(extra: Partial<SimulatorOptions>): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC],
    replayMs: 0,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    ...extra,
  });
  return sim;
}

describe('simulator market data from the real sample', () => {
  it('weekly klines open on Monday 00:00 UTC and hold exactly that week of bars', async () => {
    const s = await start({ startIndex: (20 * DAY) / BAR }); // 2025-10-22 (a Wednesday) + 20 days
    const rows = (await raw(`${s.restUrl}/fapi/v1/klines?symbol=BTCUSDT&interval=1w&limit=10`)).json as unknown[][];
    expect(rows.length).toBe(4); // weeks of 10-20, 10-27, 11-03 and 11-10 (in progress)
    for (const r of rows) expect(new Date(r[0] as number).getUTCDay()).toBe(1);
    expect(rows[0]![0]).toBe(Date.parse('2025-10-20T00:00:00Z'));
    const weekStart = rows[1]![0] as number;
    let vol = 0;
    for (let i = 0; i < BTC.length; i++)
      if (BTC.openTime[i]! >= weekStart && BTC.openTime[i]! < weekStart + 7 * DAY) vol += BTC.volume[i]!;
    expect(Number(rows[1]![5])).toBeCloseTo(vol, 2);
    expect(rows[1]![6]).toBe(weekStart + 7 * DAY - 1);
  });

  it('serves trades, aggTrades and markPriceKlines in their documented shapes, never past the clock', async () => {
    const START = 400;
    const s = await start({ startIndex: START });
    const last = BTC.openTime[START]! + BAR - 1;
    const trades = (await raw(`${s.restUrl}/fapi/v1/trades?symbol=BTCUSDT&limit=3`)).json as Obj[];
    expect(trades).toHaveLength(3);
    expect(Object.keys(trades[2]!).sort()).toEqual(['id', 'isBuyerMaker', 'price', 'qty', 'quoteQty', 'time']);
    expect(trades[2]!.time).toBe(last);
    expect(Number(trades[2]!.price)).toBe(BTC.close[START]);
    const agg = (await raw(`${s.restUrl}/fapi/v3/aggTrades?symbol=BTCUSDT&limit=2`)).json as Obj[];
    expect(Object.keys(agg[1]!).sort()).toEqual(['T', 'a', 'f', 'l', 'm', 'p', 'q']);
    expect(agg[1]!.T).toBe(last);
    const mk = (await raw(`${s.restUrl}/fapi/v1/markPriceKlines?symbol=BTCUSDT&interval=5m&limit=1`))
      .json as unknown[][];
    expect(mk[0]![0]).toBe(BTC.openTime[START]);
    expect(Number(mk[0]![4])).toBe(BTC.close[START]);
  });

  it('charges the real funding rate at its recorded time and serves the interval from the history', async () => {
    // the real BTC settlement of 2025-10-23 16:00 is stamped 16:00:00.004, a few ms after the hour
    const entry = BTC.openTime.findIndex((t) => t === Date.parse('2025-10-23T15:50:00Z'));
    const s = await start({ startIndex: entry, fundingRates: rates, fundingRate: 0.0001 });
    const real = rates.find((r) => r.symbol === 'BTCUSDT' && r.fundingTime > Date.parse('2025-10-23T15:55:00Z'))!;
    expect(real.fundingTime).toBe(Date.parse('2025-10-23T16:00:00.004Z'));
    expect(real.rate).not.toBe(0.0001);
    const r = await v1(s.restUrl, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.010',
    });
    expect(r.status).toBe(200);
    const before = s.state().balance;
    s.advance(2); // the clock passes 16:00:00.004 when the 16:00 bar closes at 16:05
    const mark = BTC.close[entry + 2]!;
    expect(s.state().balance).toBeCloseTo(before - 0.01 * mark * real.rate, 8);
    const income = (await v1(s.restUrl, 'GET', '/fapi/v1/income', { incomeType: 'FUNDING_FEE' })).json as Obj[];
    expect(income).toHaveLength(1);
    expect(Number(income[0]!.income)).toBeCloseTo(-0.01 * mark * real.rate, 8);
    const info = (await raw(`${s.restUrl}/fapi/v1/fundingInfo`)).json as Obj[];
    expect(info[0]!.fundingIntervalHours).toBe(8);
    const hist = (await raw(`${s.restUrl}/fapi/v1/fundingRate?symbol=BTCUSDT`)).json as Obj[];
    expect(hist.at(-1)).toEqual({
      symbol: 'BTCUSDT',
      fundingRate: real.rate.toFixed(8),
      fundingTime: real.fundingTime,
    });
  });
});
