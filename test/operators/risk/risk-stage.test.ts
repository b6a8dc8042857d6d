import { firstValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { risk } from '../../../operators/risk/risk.ts';
import { filtersFor } from '../../../pipelines/instruments.ts';
import type {
  Denied,
  OrderIntent,
  PipelineEvent,
  PortfolioSnapshot,
  PositionView,
  TradeClosed,
} from '../../../pipelines/model/index.ts';
import { parseSettings } from '../../../pipelines/settings.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';

/**
 * The risk stage's own rules, driven with the events it reads (snapshots, intents, fills,
 * closed trades). Prices are real closes from the committed fixture (test/fixtures/core).
 */

const BAR = 300_000;
const T0 = Date.parse('2025-01-28T12:00:00Z');
const btc = fixtureColumns('BTCUSDT');
const eth = fixtureColumns('ETHUSDT');
const PRICE: Record<string, number> = { BTCUSDT: btc.close[144]!, ETHUSDT: eth.close[144]! };
const filters = filtersFor(['BTCUSDT', 'ETHUSDT']);

const settings = (o: Record<string, unknown> = {}) =>
  parseSettings({ SYMBOLS: 'BTCUSDT,ETHUSDT', COOLDOWN_BARS: 12, MAX_POSITION_RISK: 1, ...o });

function snapshot(time: number, equity: number, positions: PositionView[] = [], peak = equity): PortfolioSnapshot {
  const gross = positions.reduce((s, p) => s + Math.abs(p.quantity) * p.markPrice, 0);
  return {
    kind: 'portfolio',
    time,
    balance: equity,
    equity,
    peakEquity: peak,
    drawdown: 1 - equity / peak,
    realizedPnl: 0,
    unrealizedPnl: 0,
    feesPaid: 0,
    fundingPaid: 0,
    grossExposure: gross,
    marginUsed: gross / 5,
    maintenanceMargin: 0,
    positions,
  };
}

let seq = 0;
function entry(symbol: string, time: number, notional: number): OrderIntent {
  const n = ++seq;
  const quantity = Number((notional / PRICE[symbol]!).toFixed(3));
  return {
    kind: 'intent',
    time,
    symbol,
    clientOrderId: `t-${symbol}-${n}e`,
    decisionSeq: n,
    side: 'BUY',
    quantity,
    reduceOnly: false,
    reason: 'entry',
    refPrice: PRICE[symbol]!,
    stopDistance: PRICE[symbol]! * 0.01,
  };
}

function stopOut(symbol: string, time: number): TradeClosed {
  const p = PRICE[symbol]!;
  return {
    kind: 'trade-closed',
    time,
    symbol,
    side: 'LONG',
    quantity: 0.01,
    entryPrice: p,
    exitPrice: p * 0.99,
    openedAt: time - 10 * BAR,
    pnl: -p * 0.0001,
    fees: 0,
    funding: 0,
    netPnl: -p * 0.0001,
    returnPct: -0.01,
    exitReason: 'stop',
  };
}

async function through(events: PipelineEvent[], o: Record<string, unknown> = {}): Promise<PipelineEvent[]> {
  return firstValueFrom(from(events).pipe(risk(settings(o), { filters }), toArray()));
}

const approved = (out: PipelineEvent[]) => out.filter((e): e is OrderIntent => e.kind === 'intent' && !e.reduceOnly);
const denied = (out: PipelineEvent[]) => out.filter((e): e is Denied => e.kind === 'denied').map((d) => d.rule);

describe('risk stage', () => {
  it('shares one leverage cap between entries decided on the same bar', async () => {
    // two wishes of 1.5× equity each on one snapshot: the cap of 2× leaves 0.5× for the second
    const out = await through([snapshot(T0, 10_000), entry('BTCUSDT', T0, 15_000), entry('ETHUSDT', T0, 15_000)]);
    const [first, second] = approved(out).map((i) => i.quantity * i.refPrice);
    expect(first).toBeGreaterThan(14_900);
    expect(first! + second!).toBeLessThanOrEqual(20_000);
    expect(first! + second!).toBeGreaterThan(19_990);
  });

  it('fits entries in flight inside the free margin, and denies when none is left (risk:insufficient-margin)', async () => {
    // a 10× cap over a 2× exchange leverage: 20,000 of notional takes all 10,000 of margin
    const o = { MAX_PORTFOLIO_LEVERAGE: 10, LEVERAGE: 2 };
    const out = await through([snapshot(T0, 10_000), entry('BTCUSDT', T0, 30_000), entry('ETHUSDT', T0, 5_000)], o);
    const [btc, eth] = approved(out).map((i) => i.quantity * i.refPrice);
    expect(btc).toBeGreaterThan(19_900);
    // the second gets only what BTC's 0.001 step left over, margin used stays ≤ equity
    expect(eth).toBeLessThan(100);
    expect((btc! + eth!) / 2).toBeLessThanOrEqual(10_000);
    // positions whose margin already takes all of equity (after a loss): nothing fits
    const lossy = { ...snapshot(T0, 10_000), marginUsed: 10_400 };
    const none = await through([lossy, entry('ETHUSDT', T0, 1_000)], o);
    expect(none.find((e) => e.kind === 'denied')).toMatchObject({
      stage: 'risk',
      rule: 'insufficient-margin',
      value: -400,
      limit: 0,
    });
  });

  it('releases a rejected entry’s room, and keeps a filled one until the snapshot books it', async () => {
    const first = entry('BTCUSDT', T0, 20_000);
    const out = await through([
      snapshot(T0, 10_000),
      first,
      { kind: 'order-rejected', time: T0 + BAR, symbol: 'BTCUSDT', clientOrderId: first.clientOrderId, reason: 'x' },
      entry('ETHUSDT', T0 + BAR, 25_000), // the whole cap is free again
      {
        kind: 'fill',
        time: T0 + 2 * BAR,
        symbol: 'ETHUSDT',
        clientOrderId: `t-ETHUSDT-${seq}e`,
        side: 'BUY',
        quantity: 20_000 / PRICE.ETHUSDT!,
        price: PRICE.ETHUSDT!,
        fee: 0,
        liquidity: 'taker',
        reason: 'entry',
      },
      entry('BTCUSDT', T0 + 2 * BAR, 1_000), // fill seen, snapshot not yet: still counted
    ]);
    const ok = approved(out);
    expect(ok.map((i) => i.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    for (const i of ok) expect(i.quantity * i.refPrice).toBeGreaterThan(19_900);
    expect(out.filter((e) => e.kind === 'denied')).toHaveLength(1);
  });

  it('refuses a second entry while the first is in flight, and counts it for concurrency', async () => {
    const out = await through(
      [
        snapshot(T0, 10_000),
        entry('BTCUSDT', T0, 1_000),
        entry('BTCUSDT', T0 + BAR, 1_000),
        entry('ETHUSDT', T0, 1_000),
      ],
      { MAX_CONCURRENT_POSITIONS: 1 },
    );
    expect(approved(out)).toHaveLength(1);
    expect(denied(out)).toEqual(['entry-in-flight', 'max-concurrent-positions']);
  });

  it('rests a symbol COOLDOWN_BARS after a losing stop-out, and only that symbol', async () => {
    const out = await through([
      snapshot(T0, 10_000),
      stopOut('BTCUSDT', T0),
      entry('BTCUSDT', T0 + 11 * BAR, 1_000),
      entry('ETHUSDT', T0 + 11 * BAR, 1_000),
      entry('BTCUSDT', T0 + 12 * BAR, 1_000),
    ]);
    expect(denied(out)).toEqual(['cooldown']);
    expect(approved(out).map((i) => i.symbol)).toEqual(['ETHUSDT', 'BTCUSDT']);
  });

  it('locks every entry after STOPLOSS_GUARD_TRADES stop-outs in the window', async () => {
    const o = {
      COOLDOWN_BARS: 0,
      STOPLOSS_GUARD_TRADES: 3,
      STOPLOSS_GUARD_WINDOW_BARS: 10,
      STOPLOSS_GUARD_LOCK_BARS: 5,
    };
    // two stop-outs 10 bars apart do not count together; three within 10 bars lock 5 bars
    const spread = await through(
      [
        snapshot(T0, 10_000),
        stopOut('BTCUSDT', T0),
        stopOut('BTCUSDT', T0 + 10 * BAR),
        stopOut('ETHUSDT', T0 + 11 * BAR),
        entry('ETHUSDT', T0 + 12 * BAR, 500),
      ],
      o,
    );
    expect(denied(spread)).toEqual([]);
    const out = await through(
      [
        snapshot(T0, 10_000),
        stopOut('BTCUSDT', T0),
        stopOut('BTCUSDT', T0 + 2 * BAR),
        stopOut('ETHUSDT', T0 + 4 * BAR),
        entry('ETHUSDT', T0 + 9 * BAR, 500),
        entry('BTCUSDT', T0 + 10 * BAR, 500),
      ],
      o,
    );
    expect(denied(out)).toEqual(['stoploss-guard']);
    expect(approved(out).map((i) => i.symbol)).toEqual(['BTCUSDT']);
  });

  it('halts at MAX_DRAWDOWN: flattens every position and refuses entries, exits still pass', async () => {
    const held: PositionView = {
      symbol: 'BTCUSDT',
      quantity: 0.05,
      entryPrice: PRICE.BTCUSDT!,
      markPrice: PRICE.BTCUSDT!,
      unrealizedPnl: 0,
      openedAt: T0,
    };
    const out = await through([
      snapshot(T0, 10_000, [held]),
      entry('ETHUSDT', T0, 500),
      snapshot(T0 + BAR, 7_900, [held], 10_000), // 21 % down, the limit is 20 %
      entry('ETHUSDT', T0 + BAR, 500),
    ]);
    const state = out.find((e) => e.kind === 'risk-state');
    expect(state).toMatchObject({ from: 'ACTIVE', to: 'HALTED' });
    const flatten = out.filter((e): e is OrderIntent => e.kind === 'intent' && e.reduceOnly);
    expect(flatten).toMatchObject([{ symbol: 'BTCUSDT', side: 'SELL', quantity: 0.05, reason: 'halt-flatten' }]);
    expect(approved(out).map((i) => i.time)).toEqual([T0]);
    expect(denied(out)).toEqual(['drawdown-halt']);
  });
});
