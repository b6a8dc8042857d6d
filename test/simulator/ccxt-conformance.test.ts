import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ccxt, { type Exchange } from 'ccxt';
import type { BarColumns, FundingRate } from '../../pipelines/model/index.ts';
import { loadDataset, loadFundingFile } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V3_PRIVATE_KEY, V3_SIGNER } from './kit.ts';

/**
 * ccxt conformance: an unmodified ccxt `aster` exchange (V3 EIP-712 signing, builder fee off) with its
 * URLs pointed at the simulator on 127.0.0.1 runs every unified call a paper-trading bot needs.
 * A failure here is a simulator defect, never a reason to change the call.
 */
const FUNDING_FILE = 'data/sample/funding/BTC-ETH-SOL-USDT-funding-2025-10-22_2026-02-19.csv';
const START = 200; // 2025-10-22 16:40 UTC: two real funding settlements (00:00, 08:00, 16:00) are already past
let BTC: BarColumns;
let ETH: BarColumns;
let rates: FundingRate[];
const SYMBOL = 'BTC/USDT:USDT';

describe('ccxt aster (V3) against the simulator', () => {
  let sim: ExchangeSimulator;
  let ex: Exchange;
  beforeAll(async () => {
    const loaded = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT', 'ETHUSDT'] });
    BTC = loaded[0]!;
    ETH = loaded[1]!;
    rates = loadFundingFile(FUNDING_FILE);
    sim = await startExchangeSimulator({
      series: [BTC, ETH],
      fundingRates: rates,
      replayMs: 0,
      startIndex: START,
      initialBalance: 10_000,
      // ccxt signs as the wallet of its private key, which is also the default signer
      v3Credentials: [{ user: V3_SIGNER, signer: V3_SIGNER }],
    });
    ex = new ccxt.aster({
      privateKey: V3_PRIVATE_KEY,
      walletAddress: V3_SIGNER,
      options: { builderFee: false, defaultType: 'swap' },
    });
    const api = { ...(ex.urls['api'] as Record<string, string>) };
    api['fapiPublic'] = `${sim.restUrl}/fapi`;
    api['fapiPrivate'] = `${sim.restUrl}/fapi`;
    api['sapiPublic'] = `${sim.restUrl}/api`;
    api['sapiPrivate'] = `${sim.restUrl}/api`;
    ex.urls['api'] = api;
  });
  afterAll(async () => {
    await sim.close();
  });

  it('loadMarkets and fetchTime', async () => {
    const markets = await ex.loadMarkets();
    expect(markets[SYMBOL]?.id).toBe('BTCUSDT');
    expect(markets[SYMBOL]?.precision.price).toBeGreaterThan(0);
    const t = await ex.fetchTime();
    expect(typeof t).toBe('number');
  });

  it('fetchTicker, fetchTickers, fetchOrderBook, fetchOHLCV, fetchTrades', async () => {
    const close = BTC.close[START]!;
    const t = await ex.fetchTicker(SYMBOL);
    expect(t.last).toBe(close);
    const ts = await ex.fetchTickers([SYMBOL, 'ETH/USDT:USDT']);
    expect(Object.keys(ts).sort()).toEqual(['BTC/USDT:USDT', 'ETH/USDT:USDT']);
    const book = await ex.fetchOrderBook(SYMBOL, 5);
    expect(book.bids[0]![0]).toBeLessThanOrEqual(close);
    expect(book.asks[0]![0]).toBeGreaterThan(book.bids[0]![0]!);
    const bars = await ex.fetchOHLCV(SYMBOL, '5m', undefined, 3);
    expect(bars.at(-1)).toEqual([
      BTC.openTime[START],
      BTC.open[START],
      BTC.high[START],
      BTC.low[START],
      close,
      BTC.volume[START],
    ]);
    const trades = await ex.fetchTrades(SYMBOL, undefined, 5);
    expect(trades.length).toBeGreaterThan(0);
    for (const tr of trades) expect(tr.timestamp).toBeLessThanOrEqual(BTC.openTime[START]! + 300_000);
  });

  it('fetchFundingRate and fetchFundingRateHistory', async () => {
    const fr = await ex.fetchFundingRate(SYMBOL);
    expect(typeof fr.fundingRate).toBe('number');
    expect(fr.markPrice).toBe(BTC.close[START]);
    // the real history up to the market clock, non-empty from the start
    const hist = await ex.fetchFundingRateHistory(SYMBOL);
    const now = BTC.openTime[START]! + 300_000;
    const real = rates.filter(
      (r) => r.symbol === 'BTCUSDT' && r.fundingTime >= BTC.openTime[0]! && r.fundingTime <= now,
    );
    expect(real.length).toBeGreaterThan(0);
    expect(hist.map((h) => [h.timestamp, h.fundingRate])).toEqual(real.map((r) => [r.fundingTime, r.rate]));
  });

  it('fetchBalance, fetchPositions, setLeverage, setMarginMode', async () => {
    const bal = await ex.fetchBalance();
    expect(bal['USDT']?.total).toBe(10_000);
    await ex.setLeverage(10, SYMBOL);
    // already cross: the exchange answers -4046, which ccxt raises as NoChange
    await expect(ex.setMarginMode('cross', SYMBOL)).rejects.toThrow(/-4046/);
    const pos = await ex.fetchPositions([SYMBOL]);
    expect(Array.isArray(pos)).toBe(true);
    // isolated and back (no position, no open orders yet): ccxt reads the margin mode back
    expect(await ex.setMarginMode('isolated', SYMBOL)).toMatchObject({ code: 200 });
    expect((await ex.fetchMarginMode(SYMBOL)).marginMode).toBe('isolated');
    await ex.setMarginMode('cross', SYMBOL);
    expect((await ex.fetchMarginMode(SYMBOL)).marginMode).toBe('cross');
  });

  it('market, limit, reduce-only, stop-market, take-profit and trailing orders; edit, fetch, cancel', async () => {
    const close = BTC.close[START]!;
    // the default response type is ACK (status NEW), as on the exchange; the order itself is filled
    const mkt = await ex.createOrder(SYMBOL, 'market', 'buy', 0.01);
    const done = await ex.fetchOrder(mkt.id!, SYMBOL);
    expect(done.status).toBe('closed');
    expect(done.filled).toBe(0.01);
    const result = await ex.createOrder(SYMBOL, 'market', 'buy', 0.01, undefined, { newOrderRespType: 'RESULT' });
    expect(result.status).toBe('closed');
    expect(result.average).toBeGreaterThan(0);
    const pos = await ex.fetchPositions([SYMBOL]);
    expect(pos[0]?.contracts).toBe(0.02);
    expect(pos[0]?.side).toBe('long');

    const limit = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.01, Math.round(close * 0.9));
    expect(limit.status).toBe('open');
    const reduce = await ex.createOrder(SYMBOL, 'limit', 'sell', 0.005, Math.round(close * 1.1), { reduceOnly: true });
    expect(reduce.reduceOnly).toBe(true);
    const stop = await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, {
      stopLossPrice: Math.round(close * 0.95),
      reduceOnly: true,
    });
    expect((stop.info as Record<string, unknown>)['type']).toBe('STOP_MARKET');
    expect(stop.triggerPrice).toBe(Math.round(close * 0.95));
    const tp = await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, {
      takeProfitPrice: Math.round(close * 1.05),
      reduceOnly: true,
    });
    expect((tp.info as Record<string, unknown>)['type']).toBe('TAKE_PROFIT_MARKET');
    expect(tp.triggerPrice).toBe(Math.round(close * 1.05));
    // ccxt sends no quantity for TRAILING_STOP_MARKET (only callbackRate is documented as mandatory);
    // the exchange needs one, so a bot passes it through params
    const trail = await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, {
      trailingPercent: 1,
      quantity: '0.010',
      reduceOnly: true,
    });
    expect((trail.info as Record<string, unknown>)['type']).toBe('TRAILING_STOP_MARKET');
    expect((trail.info as Record<string, unknown>)['priceRate']).toBe('1');

    const edited = await ex.editOrder(limit.id!, SYMBOL, 'limit', 'buy', 0.02, Math.round(close * 0.91));
    expect(edited.amount).toBe(0.02);
    const fetched = await ex.fetchOrder(edited.id!, SYMBOL);
    expect(fetched.price).toBe(Math.round(close * 0.91));
    const open = await ex.fetchOpenOrders(SYMBOL);
    expect(open.map((o) => o.id)).toContain(edited.id);
    const cancelled = await ex.cancelOrder(edited.id!, SYMBOL);
    expect(cancelled.status).toBe('canceled');
    await ex.cancelAllOrders(SYMBOL);
    expect(await ex.fetchOpenOrders(SYMBOL)).toEqual([]);
    const closed = await ex.fetchClosedOrders(SYMBOL);
    expect(closed.map((o) => o.id)).toContain(mkt.id);
    const mine = await ex.fetchMyTrades(SYMBOL);
    expect(mine.map((t) => t.order)).toContain(mkt.id);
  });

  it('fetchLedger (income): the real funding settlement the open position paid', async () => {
    const pos = (await ex.fetchPositions([SYMBOL]))[0]!;
    expect(pos.contracts).toBeGreaterThan(0);
    const now = BTC.openTime[START]! + 300_000;
    const next = rates.find((r) => r.symbol === 'BTCUSDT' && r.fundingTime > now)!;
    sim.advance(Math.ceil((next.fundingTime - now) / 300_000));
    const ledger = await ex.fetchLedger('USDT');
    const row = ledger.find((l) => (l.info as Record<string, unknown>)['incomeType'] === 'FUNDING_FEE')!;
    expect(row).toBeDefined();
    expect((row.info as Record<string, unknown>)['incomeType']).toBe('FUNDING_FEE');
    // a long pays a positive rate and receives a negative one
    expect(Math.sign(row.direction === 'in' ? row.amount! : -row.amount!)).toBe(-Math.sign(next.rate));
  });
});
