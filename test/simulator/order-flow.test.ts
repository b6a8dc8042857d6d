import WebSocket from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { loadBarFile, loadDataset } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, raw } from './kit.ts';

/**
 * Klines' order-flow fields (REST positions 7–10, stream q/n/V/Q) come from the data when it has
 * them (a Binance-native file) and are null when it does not (never a made-up 0 or volume × close).
 */
let AVAX: BarColumns;
let BTC: BarColumns;
beforeAll(async () => {
  AVAX = await loadBarFile('test/fixtures/flow/AVAXUSDT-1m-2023-02-01.csv');
  BTC = (await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT'] }))[0]!;
});

let sim: ExchangeSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const START = 100;
const start = async (series: BarColumns): Promise<ExchangeSimulator> =>
  (sim = await startExchangeSimulator({
    series: [series],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
  }));

function sum(col: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += col[i]!;
  return s;
}

async function firstFrame(url: string, after: () => void): Promise<Record<string, unknown>> {
  const ws = new WebSocket(url);
  await new Promise((r) => ws.once('open', r));
  const frame = new Promise<Record<string, unknown>>((r) => ws.once('message', (m) => r(JSON.parse(String(m)))));
  after();
  const out = await frame;
  ws.close();
  return out;
}

describe('simulator klines with order flow', () => {
  it('REST klines serve the file’s quote volume, trades and taker-buy volumes, summed for longer intervals', async () => {
    const s = await start(AVAX);
    const rows = (await raw(`${s.restUrl}/fapi/v1/klines?symbol=AVAXUSDT&interval=1m&limit=2`)).json as unknown[][];
    const i = START;
    expect(rows[1]![0]).toBe(AVAX.openTime[i]);
    expect(Number(rows[1]![7])).toBeCloseTo(AVAX.flow!.quoteVolume[i]!, 6);
    expect(rows[1]![8]).toBe(AVAX.flow!.trades[i]);
    expect(Number(rows[1]![9])).toBe(AVAX.flow!.takerBuyVolume[i]);
    expect(Number(rows[1]![10])).toBeCloseTo(AVAX.flow!.takerBuyQuoteVolume[i]!, 6);
    // 5m bucket [95, 100): five whole 1m bars of the file
    const five = (await raw(`${s.restUrl}/fapi/v1/klines?symbol=AVAXUSDT&interval=5m&limit=2`)).json as unknown[][];
    expect(five[0]![0]).toBe(AVAX.openTime[95]);
    expect(five[0]![8]).toBe(sum(AVAX.flow!.trades, 95, 100));
    expect(Number(five[0]![9])).toBeCloseTo(sum(AVAX.flow!.takerBuyVolume, 95, 100), 6);
    expect(Number(five[0]![7])).toBeCloseTo(sum(AVAX.flow!.quoteVolume, 95, 100), 4);
  });

  it('the kline stream carries q/n/V/Q of the released bar', async () => {
    const s = await start(AVAX);
    const msg = await firstFrame(`${s.wsUrl}/ws/avaxusdt@kline_1m`, () => s.advance(1));
    const k = msg.k as Record<string, unknown>;
    const i = START + 1;
    expect(k.t).toBe(AVAX.openTime[i]);
    expect(k.n).toBe(AVAX.flow!.trades[i]);
    expect(Number(k.V)).toBe(AVAX.flow!.takerBuyVolume[i]);
    expect(Number(k.q)).toBeCloseTo(AVAX.flow!.quoteVolume[i]!, 6);
    expect(Number(k.Q)).toBeCloseTo(AVAX.flow!.takerBuyQuoteVolume[i]!, 6);
  });

  it('without flow in the data, positions 7–10 and q/n/V/Q are null, not invented', async () => {
    const s = await start(BTC);
    const rows = (await raw(`${s.restUrl}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1`)).json as unknown[][];
    expect(rows[0]!.slice(7, 11)).toEqual([null, null, null, null]);
    expect(rows[0]).toHaveLength(12);
    const msg = await firstFrame(`${s.wsUrl}/ws/btcusdt@kline_5m`, () => s.advance(1));
    const k = msg.k as Record<string, unknown>;
    expect([k.q, k.n, k.V, k.Q]).toEqual([null, null, null, null]);
  });

  it('trades and aggTrades name the side that took more of each bar as aggressor, from the taker-buy volume', async () => {
    const s = await start(AVAX);
    // the sample's bars are sold into and bought into in turn: both answers must occur
    const sellerTook = (i: number) => AVAX.flow!.takerBuyVolume[i]! * 2 < AVAX.volume[i]!;
    const rows = (await raw(`${s.restUrl}/fapi/v1/aggTrades?symbol=AVAXUSDT&limit=100`)).json as {
      a: number;
      m: boolean;
    }[];
    expect(rows.length).toBeGreaterThan(50);
    for (const r of rows) expect(r.m, `bar ${r.a}`).toBe(sellerTook(r.a));
    expect(new Set(rows.map((r) => r.m)).size).toBe(2);
    const trades = (await raw(`${s.restUrl}/fapi/v1/trades?symbol=AVAXUSDT&limit=100`)).json as {
      id: number;
      isBuyerMaker: boolean;
    }[];
    for (const t of trades) expect(t.isBuyerMaker).toBe(sellerTook(t.id));
    // the stream's print of the next bar says the same
    const msg = await firstFrame(`${s.wsUrl}/ws/avaxusdt@aggTrade`, () => s.advance(1));
    expect(msg.m).toBe(sellerTook(START + 1));
  });

  it('without taker-buy volume in the data, every print reports the buyer as aggressor (no side is invented)', async () => {
    const s = await start(BTC);
    const rows = (await raw(`${s.restUrl}/fapi/v1/aggTrades?symbol=BTCUSDT&limit=50`)).json as { m: boolean }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.m === false)).toBe(true);
  });
});
