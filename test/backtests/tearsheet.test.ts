import { describe, expect, it } from 'vitest';
import type { TradeClosed } from '../../pipelines/model/index.ts';
import {
  buyAndHoldCurve,
  drawdownPeriods,
  returnHistogram,
  rollingRatios,
  sideBreakdown,
  streaks,
} from '../../backtests/report/tearsheet.ts';

const rows = (values: number[]) => values.map((equity, i) => ({ time: (i + 1) * 3_600_000, equity }));
const H = 3_600_000;

function trade(side: 'LONG' | 'SHORT', netPnl: number, closedHour: number, heldHours = 1): TradeClosed {
  return {
    symbol: 'BTCUSDT',
    side,
    netPnl,
    returnPct: netPnl / 1000,
    time: closedHour * H,
    openedAt: (closedHour - heldHours) * H,
  } as TradeClosed;
}

describe('tearsheet statistics, recomputed by hand', () => {
  it('drawdown periods: start at the peak, the valley, recovery when back at the peak, deepest first', () => {
    // 110 → 99 (−10 %) recovers at row 5; 121 → 96.8 (−20 %) never recovers
    const eq = rows([100, 110, 99, 104.5, 110, 121, 96.8, 100]);
    const p = drawdownPeriods(eq);
    expect(p).toHaveLength(2);
    expect(p[0]).toMatchObject({ start: 6 * H, valley: 7 * H, recovery: null, lengthMs: 2 * H });
    expect(p[0]!.depthPct).toBeCloseTo(20, 10);
    expect(p[1]).toMatchObject({ start: 2 * H, valley: 3 * H, recovery: 5 * H, lengthMs: 3 * H });
    expect(p[1]!.depthPct).toBeCloseTo(10, 10);
    expect(drawdownPeriods(eq, 1)).toHaveLength(1);
    expect(drawdownPeriods(rows([1, 2, 3]))).toEqual([]);
  });

  it('return histogram: equal bins over the range, the maximum in the last bin', () => {
    const bins = returnHistogram([0.01, 0.02, 0.03, -0.01], 4);
    expect(bins.map((b) => b.count)).toEqual([1, 0, 1, 2]);
    expect(bins[0]!.fromPct).toBeCloseTo(-1, 10);
    expect(bins[3]!.toPct).toBeCloseTo(3, 10);
    expect(returnHistogram([0.5, 0.5]).map((b) => b.count)).toEqual([2]);
    expect(returnHistogram([])).toEqual([]);
  });

  it('rolling Sharpe and volatility: mean/sd of the window, annualised by √(periods per year)', () => {
    // per-bar basis (a short run): 1 h bars, 8 returns → a window of 2
    const eq = rows([100, 101, 103.02, 102, 104, 104, 105, 103, 106]);
    const r = rollingRatios(eq, H);
    expect(r.basis).toBe('bar');
    expect(r.window).toBe(2);
    expect(r.points).toHaveLength(7);
    const returns = eq.slice(1).map((p, i) => p.equity / eq[i]!.equity - 1);
    const perYear = (365 * 24 * H) / H;
    const [a, b] = [returns[0]!, returns[1]!];
    const m = (a + b) / 2;
    const sd = Math.sqrt(((a - m) ** 2 + (b - m) ** 2) / 1);
    expect(r.points[0]!.time).toBe(3 * H);
    expect(r.points[0]!.sharpe!).toBeCloseTo((m / sd) * Math.sqrt(perYear), 8);
    expect(r.points[0]!.volatilityPct).toBeCloseTo(sd * Math.sqrt(perYear) * 100, 8);
    // a flat window has no Sharpe
    expect(rollingRatios(rows([100, 100, 100, 100, 100, 100, 100, 100, 100]), H).points[0]!.sharpe).toBeNull();
  });

  it('long vs short: counts, win rate, net PnL, profit factor, average hold', () => {
    const ts = [trade('LONG', 30, 2), trade('LONG', -10, 4, 3), trade('SHORT', -5, 6), trade('SHORT', -5, 8)];
    const [long, short] = sideBreakdown(ts);
    expect(long).toMatchObject({ side: 'LONG', trades: 2, winRate: 0.5, netPnl: 20, profitFactor: 3 });
    expect(long!.avgDurationMs).toBe(2 * H);
    expect(long!.avgReturnPct).toBeCloseTo(1, 10);
    expect(short).toMatchObject({ side: 'SHORT', trades: 2, winRate: 0, netPnl: -10 });
    expect(short!.profitFactor).toBe(0); // nothing won, 10 lost
  });

  it('streaks: longest runs of wins and losses in closing order', () => {
    const pnl = [5, 5, -1, 3, 3, 3, -2, -2, 0, -1];
    const ts = pnl.map((p, i) => trade('LONG', p, 20 - i)); // listed newest first: ordering must not matter
    // closing order is the reverse: -1, 0, -2, -2, 3, 3, 3, -1, 5, 5
    expect(streaks(ts)).toEqual({ maxConsecutiveWins: 3, maxConsecutiveLosses: 2 });
    expect(streaks([])).toEqual({ maxConsecutiveWins: 0, maxConsecutiveLosses: 0 });
  });

  it('buy and hold: capital split evenly at the first prices, marked at the latest close', () => {
    const curve = buyAndHoldCurve(
      [
        { time: 0, equity: 1000 },
        { time: 1, equity: 1000 },
        { time: 2, equity: 1000 },
      ],
      [
        { first: 100, closeTime: [1, 2], close: [110, 120] },
        { first: 10, closeTime: [1, 2], close: [10, 5] },
      ],
      1000,
    );
    expect(curve.map((p) => p.equity)).toEqual([1000, 1050, 850]);
  });
});
