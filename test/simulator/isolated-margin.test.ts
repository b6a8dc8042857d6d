import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { loadDataset, sliceColumns } from '../../backtests/data/index.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';
import {
  isolatedLiquidationPrice,
  liquidationFillPrice,
  liquidationPrice,
} from '../../pipelines/margin/margin.kernel.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { V1_KEY, V1_SECRET, v1 } from './kit.ts';

/**
 * ISOLATED margin in the simulator, on the real crash of the shipped sample (BTCUSDT 2025-11-21
 * 07:30 UTC: open 85,175.8, low 81,111.0): a 25× isolated long is liquidated alone at the price of
 * the isolated kernel, losing at most its isolated wallet; a cross position beside it stays open.
 */
const WINDOW = [Date.parse('2025-11-21T07:00:00Z'), Date.parse('2025-11-21T07:45:00Z')] as const;
const ENTRY_BAR = Date.parse('2025-11-21T07:20:00Z');
const CRASH_BAR = Date.parse('2025-11-21T07:30:00Z');
const BALANCE = 10_000;
type Obj = Record<string, unknown>;

let btc: BarColumns;
let sol: BarColumns;
beforeAll(async () => {
  const all = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT', 'SOLUSDT'] });
  btc = sliceColumns(all[0]!, WINDOW[0], WINDOW[1]);
  sol = sliceColumns(all[1]!, WINDOW[0], WINDOW[1]);
});

let sim: ExchangeSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [btc, sol],
    replayMs: 0,
    startIndex: btc.openTime.indexOf(ENTRY_BAR),
    initialBalance: BALANCE,
    credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
  });
  return sim;
}

const post = (s: ExchangeSimulator, path: string, p: Record<string, string | number>) =>
  v1(s.restUrl, 'POST', path, p).then((r) => ({ status: r.status, body: r.json as Obj }));
const marginType = (s: ExchangeSimulator, symbol: string, type: string) =>
  post(s, '/fapi/v1/marginType', { symbol, marginType: type });
const market = (s: ExchangeSimulator, symbol: string, side: string, quantity: number) =>
  post(s, '/fapi/v1/order', { symbol, side, type: 'MARKET', quantity, newOrderRespType: 'RESULT' });

describe('isolated liquidation kernel', () => {
  const table = leverageBrackets();
  const flat = [
    { bracket: 1, initialLeverage: 100, notionalFloor: 0, notionalCap: 1e12, maintMarginRatio: 0.005, cum: 0 },
  ];
  it('solves wallet + q (P − E) = |q| P mmr − cum on the position alone (hand-computed)', () => {
    // long 1 @ 100,000 on a 10,000 wallet: (100,000 − 10,000) / (1 − 0.005)
    expect(isolatedLiquidationPrice(10_000, { qty: 1, entry: 100_000 }, flat)).toBeCloseTo(90_000 / 0.995, 6);
    // short 1 @ 100,000: (−100,000 − 10,000) / (−1 − 0.005)
    expect(isolatedLiquidationPrice(10_000, { qty: -1, entry: 100_000 }, flat)).toBeCloseTo(110_000 / 1.005, 6);
    // a long backed by more than its notional is never liquidated
    expect(isolatedLiquidationPrice(200_000, { qty: 1, entry: 100_000 }, flat)).toBe(0);
    expect(isolatedLiquidationPrice(100, { qty: 0, entry: 100_000 }, flat)).toBe(0);
  });

  it('equals the cross price of an account holding only that position with the same wallet', () => {
    const p = { symbol: 'BTCUSDT', qty: 0.29, entry: 85_289.1, mark: 85_289.1 };
    const brackets = table.get('BTCUSDT')!;
    expect(isolatedLiquidationPrice(989.35, p, brackets)).toBe(liquidationPrice(989.35, [p], 'BTCUSDT', table));
  });
});

describe('simulator ISOLATED margin', () => {
  it('marginType: success, -4046 when unchanged, -4047 with open orders, -4048 with a position', async () => {
    const s = await start();
    expect(await marginType(s, 'BTCUSDT', 'ISOLATED')).toEqual({ status: 200, body: { code: 200, msg: 'success' } });
    expect((await marginType(s, 'BTCUSDT', 'ISOLATED')).body).toEqual({
      code: -4046,
      msg: 'No need to change margin type.',
    });
    const close = btc.close[btc.openTime.indexOf(ENTRY_BAR)]!;
    await post(s, '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: 0.01,
      price: Math.round(close * 0.9),
      newClientOrderId: 'resting',
    });
    expect((await marginType(s, 'BTCUSDT', 'CROSSED')).body).toEqual({
      code: -4047,
      msg: 'Margin type cannot be changed if there exists open orders.',
    });
    await v1(s.restUrl, 'DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' });
    await market(s, 'BTCUSDT', 'BUY', 0.01);
    expect((await marginType(s, 'BTCUSDT', 'CROSSED')).body).toEqual({
      code: -4048,
      msg: 'Margin type cannot be changed if there exists position.',
    });
    await market(s, 'BTCUSDT', 'SELL', 0.01);
    expect((await marginType(s, 'BTCUSDT', 'CROSSED')).body).toEqual({ code: 200, msg: 'success' });
    expect((await marginType(s, 'BTCUSDT', 'cross')).status).toBe(400);
  });

  it('an isolated position has its own wallet in positionRisk, account and balance; it is liquidated alone', async () => {
    const s = await start();
    await post(s, '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 25 });
    await marginType(s, 'BTCUSDT', 'ISOLATED');
    expect((await market(s, 'BTCUSDT', 'BUY', 0.29)).body.status).toBe('FILLED');
    expect((await market(s, 'SOLUSDT', 'BUY', 10)).body.status).toBe('FILLED');
    const btcPos = () => s.state().positions.find((p) => p.symbol === 'BTCUSDT')!;
    const { entryPrice, isolatedWallet } = btcPos();
    expect(isolatedWallet).toBeCloseTo((0.29 * entryPrice) / 25, 8);

    const risk = ((await v1(s.restUrl, 'GET', '/fapi/v2/positionRisk', {})).json as Obj[]).find(
      (r) => r.symbol === 'BTCUSDT',
    )!;
    const brackets = leverageBrackets().get('BTCUSDT')!;
    const liq = isolatedLiquidationPrice(isolatedWallet, { qty: 0.29, entry: entryPrice }, brackets);
    expect(risk).toMatchObject({ marginType: 'isolated', isolatedWallet: isolatedWallet.toFixed(8) });
    expect(Number(risk.liquidationPrice)).toBeCloseTo(liq, 6);
    expect(Number(risk.isolatedMargin)).toBeCloseTo(isolatedWallet + Number(risk.unRealizedProfit), 6);
    const bal = ((await v1(s.restUrl, 'GET', '/fapi/v2/balance', {})).json as Obj[])[0]!;
    expect(Number(bal.crossWalletBalance)).toBeCloseTo(Number(bal.balance) - isolatedWallet, 6);
    const acct = (await v1(s.restUrl, 'GET', '/fapi/v2/account', {})).json as { positions: Obj[] };
    expect(acct.positions.find((p) => p.symbol === 'BTCUSDT')).toMatchObject({ isolated: true });
    expect(acct.positions.find((p) => p.symbol === 'SOLUSDT')).toMatchObject({ isolated: false, isolatedWallet: '0' });
    // the same position under cross margin on this wallet would survive the crash
    const cross = liquidationPrice(
      BALANCE,
      [{ symbol: 'BTCUSDT', qty: 0.29, entry: entryPrice, mark: entryPrice }],
      'BTCUSDT',
      leverageBrackets(),
    );
    const crash = btc.openTime.indexOf(CRASH_BAR);
    expect(cross).toBeLessThan(btc.low[crash]!);
    expect(liq).toBeGreaterThan(btc.low[crash]!);

    // step to the crash; the isolated wallet (and so the price) is read again before each bar
    let expected = Number.NaN;
    let walletBefore = 0;
    while (btcPos().amount !== 0 && s.state().cursorTime <= CRASH_BAR) {
      const next = btc.openTime.indexOf(s.state().cursorTime);
      const p = btcPos();
      walletBefore = p.isolatedWallet;
      const price = isolatedLiquidationPrice(p.isolatedWallet, { qty: p.amount, entry: p.entryPrice }, brackets);
      expected = liquidationFillPrice(1, price, { open: btc.open[next]!, high: btc.high[next]!, low: btc.low[next]! });
      s.advance(1);
    }
    expect(btcPos().amount).toBe(0);
    const liquidation = s.state().orders.find((o) => o.type === 'LIQUIDATION')!;
    expect(liquidation).toMatchObject({ symbol: 'BTCUSDT', status: 'FILLED' });
    const fill = s.state().fills.find((f) => f.orderId === liquidation.orderId)!;
    expect(fill.price).toBeCloseTo(expected, 6);
    // it lost at most its isolated wallet; the cross SOL position is untouched
    expect(-fill.realizedPnl + fill.commission).toBeLessThanOrEqual(walletBefore + 1e-9);
    expect(s.state().positions.find((p) => p.symbol === 'SOLUSDT')!.amount).toBe(10);
    expect(s.state().orders.filter((o) => o.type === 'LIQUIDATION')).toHaveLength(1);
  });
});
