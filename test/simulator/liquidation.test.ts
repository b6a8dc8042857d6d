import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observable } from 'rxjs';
import type { BarColumns, Fill, PipelineEvent, TradeClosed } from '../../pipelines/model/index.ts';
import { loadDataset, sliceColumns } from '../../backtests/data/index.ts';
import { portfolio } from '../../operators/portfolio/portfolio.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { barsOf, driveVenue, order } from '../kit/venue-kit.ts';
import { V1_KEY, V1_SECRET, v1 } from './kit.ts';

/**
 * A real crash in the shipped sample: BTCUSDT 2025-11-21 07:30 UTC opened at 85,175.8 and traded
 * down to 81,111.0 inside five minutes. A 0.29 BTC long bought at 85,289.1 (the 07:20 close, which
 * is also the 07:25 open) on a 1,000 USDT account — about 25× — is liquidated inside that bar.
 */
const WINDOW = [Date.parse('2025-11-21T07:00:00Z'), Date.parse('2025-11-21T07:45:00Z')] as const;
const ENTRY_BAR = Date.parse('2025-11-21T07:20:00Z'); // decided at its close, filled at the next open
const CRASH_BAR = Date.parse('2025-11-21T07:30:00Z');
const QTY = 0.29;
const BALANCE = 1_000;
const TAKER = 0.00035;
const LIQ_FEE = 0.025;

let btc: BarColumns;
let sol: BarColumns;
beforeAll(async () => {
  const all = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT', 'SOLUSDT'] });
  btc = sliceColumns(all[0]!, WINDOW[0], WINDOW[1]);
  sol = sliceColumns(all[1]!, WINDOW[0], WINDOW[1]);
});

type Obj = Record<string, unknown>;

function backtestVenueRun(): { fills: Fill[]; trades: TradeClosed[]; events: PipelineEvent[] } {
  const bars = barsOf(btc);
  const settings = {
    TAKER_FEE: TAKER,
    SLIPPAGE_BPS: 0,
    LATENCY_MS: 0,
    FUNDING_RATE: 0,
    INITIAL_BALANCE: BALANCE,
    LEVERAGE: 25,
    LIQUIDATION_FEE: LIQ_FEE,
  };
  const venueOut = driveVenue(settings, bars, (_i, bar) =>
    bar.openTime === ENTRY_BAR
      ? [order({ time: bar.time, symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: QTY, refPrice: bar.close })]
      : [],
  );
  // the venue's events through the portfolio books: the trade and its exit reason
  const events: PipelineEvent[] = [];
  new Observable<PipelineEvent>((sub) => {
    for (const e of venueOut) sub.next(e as PipelineEvent);
    sub.complete();
  })
    .pipe(portfolio(parseSettings({ INITIAL_BALANCE: BALANCE, LEVERAGE: 25 })))
    .subscribe((e) => events.push(e));
  return {
    fills: events.filter((e): e is Fill => e.kind === 'fill'),
    trades: events.filter((e): e is TradeClosed => e.kind === 'trade-closed'),
    events,
  };
}

describe('a leveraged long through a real crash (shipped sample, BTCUSDT 2025-11-21 07:30)', () => {
  let sim: ExchangeSimulator;
  let base: string;
  beforeAll(async () => {
    sim = await startExchangeSimulator({
      series: [btc, sol],
      replayMs: 0,
      startIndex: btc.openTime.indexOf(ENTRY_BAR),
      initialBalance: BALANCE,
      takerFee: TAKER,
      slippageBps: 0,
      liquidationFee: LIQ_FEE,
      credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    });
    base = sim.restUrl;
  });
  afterAll(() => sim.close());

  it('is liquidated in the backtest venue at the cross-margin liquidation price, exit reason liquidation', () => {
    const { fills, trades, events } = backtestVenueRun();
    expect(fills).toHaveLength(2);
    const [entry, liq] = fills as [Fill, Fill];
    expect(entry.price).toBe(85_289.1);
    // recomputed from the definition: wallet W after the entry fee; W + q (P − E) = q P mmr (bracket 1, 0.4 %)
    const w = BALANCE - QTY * 85_289.1 * TAKER;
    const p = (QTY * 85_289.1 - w) / (QTY * (1 - 0.004));
    expect(liq.price).toBeCloseTo(p, 6);
    expect(liq.time).toBe(CRASH_BAR + 300_000);
    expect(liq.reason).toBe('liquidation');
    expect(liq.clientOrderId.startsWith('autoclose-')).toBe(true);
    // the fee is the rate on notional, capped by the margin left (here the margin left is smaller)
    const left = w + QTY * (p - 85_289.1);
    expect(liq.fee).toBeCloseTo(Math.min(QTY * p * LIQ_FEE, left), 6);
    expect(trades).toHaveLength(1);
    expect(trades[0]!.exitReason).toBe('liquidation');
    // the portfolio reports maintenance margin while the position is open
    const open = events.find((e) => e.kind === 'portfolio' && e.positions.length > 0);
    expect(open && open.kind === 'portfolio' && open.maintenanceMargin).toBeCloseTo(
      QTY * btc.close[btc.openTime.indexOf(ENTRY_BAR) + 1]! * 0.004,
      6,
    );
  });

  it('is liquidated by the exchange simulator at the same price, to the cent, as a LIQUIDATION autoclose- order', async () => {
    const venueLiq = backtestVenueRun().fills[1]!;
    expect((await v1(base, 'POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 25 })).status).toBe(200);
    const placed = await v1(base, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: String(QTY),
    });
    expect(placed.status).toBe(200);
    const risk = ((await v1(base, 'GET', '/fapi/v2/positionRisk', { symbol: 'BTCUSDT' })).json as Obj[])[0]!;
    expect(Number(risk.entryPrice)).toBe(85_289.1);
    expect(Number(risk.liquidationPrice)).toBeCloseTo(venueLiq.price, 6);
    sim.advance(1); // 07:25: the low stays above the liquidation price
    expect(sim.state().positions.find((x) => x.symbol === 'BTCUSDT')!.amount).toBe(QTY);
    sim.advance(1); // 07:30: the crash
    const st = sim.state();
    expect(st.positions.find((x) => x.symbol === 'BTCUSDT')!.amount).toBe(0);
    const liq = st.fills.at(-1)!;
    expect(Math.round(liq.price * 100)).toBe(Math.round(venueLiq.price * 100));
    expect(liq.price).toBe(venueLiq.price);
    expect(liq.commission).toBe(venueLiq.fee);
    const o = st.orders.find((x) => x.orderId === liq.orderId)!;
    expect(o.type).toBe('LIQUIDATION');
    expect(o.clientOrderId.startsWith('autoclose-')).toBe(true);
    // the wallets agree too
    const venueWallet =
      BALANCE - backtestVenueRun().fills.reduce((s, f) => s + f.fee, 0) + QTY * (venueLiq.price - 85_289.1);
    expect(st.balance).toBeCloseTo(venueWallet, 6);
  });

  it('refuses leverage above the bracket maximum (-4028) and serves the brackets', async () => {
    const r = await v1(base, 'POST', '/fapi/v1/leverage', { symbol: 'SOLUSDT', leverage: 125 });
    expect(r.status).toBe(400);
    expect((r.json as Obj).code).toBe(-4028);
    expect((await v1(base, 'POST', '/fapi/v1/leverage', { symbol: 'SOLUSDT', leverage: 100 })).status).toBe(200);
    // at 100× a SOLUSDT position may reach 50,000 USDT (bracket 1): more is -2027
    const big = await v1(base, 'POST', '/fapi/v1/order', {
      symbol: 'SOLUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '1000',
    });
    expect((big.json as Obj).code).toBe(-2027);
    const one = (await v1(base, 'GET', '/fapi/v1/leverageBracket', { symbol: 'SOLUSDT' })).json as Obj;
    expect(one).toEqual({ symbol: 'SOLUSDT', brackets: leverageBrackets().get('SOLUSDT') });
    const all = (await v1(base, 'GET', '/fapi/v1/leverageBracket', {})).json as Obj[];
    expect(all.map((x) => x.symbol)).toEqual(['BTCUSDT', 'SOLUSDT']);
    // unsigned: refused like every USER_DATA call
    const unsigned = await fetch(`${base}/fapi/v1/leverageBracket`, { headers: { 'X-MBX-APIKEY': V1_KEY } });
    expect(unsigned.status).toBe(400);
  });
});

describe('cross margin: a second position shares the account (ETHUSDT from 06:25, BTCUSDT from 07:25)', () => {
  // a larger wallet, so that the simulator's initial-margin check admits both entries at 25×
  const WALLET = 1_400;
  // each entry is decided at a bar whose close is the next bar's open and lies on the tick, so both
  // venues fill it at the same price (the backtest at the next open, the simulator at the last close)
  const ENTRIES = [
    { symbol: 'ETHUSDT', qty: 2, decidedAt: Date.parse('2025-11-21T06:20:00Z'), price: 2_798.0 },
    { symbol: 'BTCUSDT', qty: 0.29, decidedAt: ENTRY_BAR, price: 85_289.1 },
  ];
  const FROM = Date.parse('2025-11-21T06:00:00Z');

  async function both(): Promise<{
    venue: Fill[];
    sim: { symbol: string; price: number; qty: number; commission: number }[];
  }> {
    const all = await loadDataset({ dir: 'data/sample/perp-5m', symbols: ['BTCUSDT', 'ETHUSDT'] });
    const cols = all.map((c) => sliceColumns(c, FROM, WINDOW[1]));
    // the backtest venue over the bars merged by time (series order inside a step), as a backtest runs
    const bars = cols.flatMap((c) => barsOf(c)).sort((a, b) => a.openTime - b.openTime);
    const out = driveVenue(
      {
        TAKER_FEE: TAKER,
        SLIPPAGE_BPS: 0,
        LATENCY_MS: 0,
        FUNDING_RATE: 0,
        INITIAL_BALANCE: WALLET,
        LEVERAGE: 25,
        LIQUIDATION_FEE: LIQ_FEE,
      },
      bars,
      (_i, bar) =>
        ENTRIES.filter((e) => e.symbol === bar.symbol && e.decidedAt === bar.openTime).map((e) =>
          order({
            time: bar.time,
            symbol: e.symbol,
            side: 'BUY',
            type: 'MARKET',
            quantity: e.qty,
            refPrice: bar.close,
          }),
        ),
    );
    const btcTimes = cols[0]!.openTime;
    const sim = await startExchangeSimulator({
      series: cols,
      replayMs: 0,
      startIndex: btcTimes.indexOf(ENTRIES[0]!.decidedAt),
      initialBalance: WALLET,
      takerFee: TAKER,
      slippageBps: 0,
      liquidationFee: LIQ_FEE,
      credentials: [{ apiKey: V1_KEY, secretKey: V1_SECRET }],
    });
    try {
      let at = btcTimes.indexOf(ENTRIES[0]!.decidedAt);
      for (const e of ENTRIES) {
        const k = btcTimes.indexOf(e.decidedAt);
        sim.advance(k - at);
        at = k;
        await v1(sim.restUrl, 'POST', '/fapi/v1/leverage', { symbol: e.symbol, leverage: 25 });
        const r = await v1(sim.restUrl, 'POST', '/fapi/v1/order', {
          symbol: e.symbol,
          side: 'BUY',
          type: 'MARKET',
          quantity: String(e.qty),
        });
        expect(r.status).toBe(200);
      }
      sim.advance(3);
      return {
        venue: out.filter((e): e is Fill => e.kind === 'fill'),
        sim: sim.state().fills.map((f) => ({ symbol: f.symbol, price: f.price, qty: f.qty, commission: f.commission })),
      };
    } finally {
      await sim.close();
    }
  }

  it('both venues liquidate both positions, at the same prices and fees', async () => {
    const { venue, sim } = await both();
    expect(venue.slice(0, 2).map((f) => [f.symbol, f.price])).toEqual(ENTRIES.map((e) => [e.symbol, e.price]));
    const liq = venue.filter((f) => f.reason === 'liquidation');
    expect(liq.map((f) => f.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    // the BTC liquidation price counts the ETH position's loss and maintenance margin
    const w = WALLET - venue.slice(0, 2).reduce((s, f) => s + f.fee, 0);
    const ethMark = 2_755.45; // ETHUSDT 07:25 close: its latest price when BTC's 07:30 bar trades
    const uEth = 2 * (ethMark - 2_798.0);
    const mmEth = 2 * ethMark * 0.004;
    const p = (mmEth - w - uEth + 0.29 * 85_289.1) / (0.29 * (1 - 0.004));
    expect(liq[0]!.price).toBeCloseTo(p, 6);
    expect(liq[1]!.price).toBe(ethMark);
    expect(sim.map((f) => [f.symbol, f.price, f.qty, f.commission])).toEqual(
      venue.map((f) => [f.symbol, f.price, f.quantity, f.fee]),
    );
  });
});
