import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import type { Decision, Denied, TradeClosed } from '../../pipelines/model/index.ts';
import { armKeys, banditArms, entryLocks, performance, withAllocation } from '../../live/service/desk.kernel.ts';
import type { ArmView } from '../../live/service/dashboard-view.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { decisionText, sseMessages, signalText } from '../../live/service/views.ts';

const series = () => [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];

/** The source of the entry decision behind a trade (the last entry decision of its symbol before it opened). */
function sourceOf(decisions: readonly Decision[]) {
  return (t: TradeClosed): string | null => {
    let found: Decision | null = null;
    for (const d of decisions) {
      if (d.time > t.openedAt) break;
      if (d.symbol === t.symbol && d.action !== 'exit') found = d;
    }
    return found?.source ?? null;
  };
}

describe('entry locks derived for the desk agree with the risk stage', () => {
  it('every stop-loss-guard and cooldown denial of a real backtest happens while the desk shows that lock', () => {
    // a guard that trips on 2 stop-outs and long cooldowns: the fixture run meets both rules
    const settings = activeSettings({
      STOPLOSS_GUARD_TRADES: 2,
      STOPLOSS_GUARD_WINDOW_BARS: 400,
      STOPLOSS_GUARD_LOCK_BARS: 60,
      COOLDOWN_BARS: 40,
      ATR_STOP_MULTIPLE: 0.8,
    });
    const result = runBacktest({ settings, series: series(), keepEvents: true });
    const denials = (result.events ?? []).filter(
      (e): e is Denied => e.kind === 'denied' && (e.rule === 'stoploss-guard' || e.rule === 'cooldown'),
    );
    expect(denials.some((d) => d.rule === 'stoploss-guard')).toBe(true);
    expect(denials.some((d) => d.rule === 'cooldown')).toBe(true);
    for (const d of denials) {
      const before = result.trades.filter((t) => t.time <= d.time);
      const locks = entryLocks(before, [], settings, d.time);
      const lock =
        d.rule === 'stoploss-guard'
          ? locks.find((l) => l.kind === 'stoploss-guard')
          : locks.find((l) => l.kind === 'cooldown' && l.symbol === d.symbol);
      expect(lock, `${d.rule} ${d.symbol} at ${new Date(d.time).toISOString()}`).toBeDefined();
      // the expiry is after the denial, and the lock is gone at its expiry
      expect(lock!.until!).toBeGreaterThan(d.time);
      const later = entryLocks(before, [], settings, lock!.until!);
      expect(later.some((l) => l.kind === lock!.kind && l.symbol === lock!.symbol)).toBe(false);
    }
  });

  it('an entry order not yet filled is an entry-in-flight lock on its symbol', () => {
    const settings = activeSettings();
    const order = {
      kind: 'order',
      time: 1,
      symbol: 'ETHUSDT',
      clientOrderId: 'x',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.5,
      reduceOnly: false,
      stopPrice: 0,
      refPrice: 3000,
      maxSlippageBps: 0,
      reason: 'entry',
    } as const;
    const locks = entryLocks([], [order], settings, 1);
    expect(locks).toEqual([expect.objectContaining({ kind: 'entry-in-flight', symbol: 'ETHUSDT', until: null })]);
  });
});

describe('bandit arms derived for the desk agree with the allocation stage', () => {
  it('every losing-arm denial happens while the desk shows that arm as probe-only with ε odds', () => {
    const settings = activeSettings({ BANDIT_MIN_TRADES: 2, BANDIT_EPSILON: 0.1, ATR_STOP_MULTIPLE: 0.8 });
    const result = runBacktest({ settings, series: series(), keepEvents: true });
    const denials = (result.events ?? []).filter(
      (e): e is Denied => e.kind === 'denied' && e.rule === 'bandit-losing-arm',
    );
    expect(denials.length).toBeGreaterThan(0);
    const source = sourceOf(result.decisions);
    for (const d of denials) {
      const before = result.trades.filter((t) => t.time <= d.time);
      const arms = banditArms(before, source, armKeys(result.decisions), settings);
      const arm = arms.find((a) => a.arm === `${d.symbol}:momentum`)!;
      expect(arm.allocation).toBe('probe-only');
      expect(arm.fundedOdds).toBe(0.1);
      expect(arm.meanReturn!).toBeCloseTo(d.value, 12);
      expect(arm.pulls).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('performance figures', () => {
  it('win rate, profit factor, per symbol and daily/weekly sums add up to the trades', () => {
    const settings = activeSettings();
    const result = runBacktest({ settings, series: series(), keepEvents: true });
    const trades = result.trades;
    expect(trades.length).toBeGreaterThan(3);
    const p = performance(trades, 123, () => 'momentum');
    const net = trades.reduce((a, t) => a + t.netPnl, 0);
    expect(p.realizedPnl).toBe(123);
    expect(p.netPnl).toBeCloseTo(net, 9);
    expect(p.winRate).toBeCloseTo(trades.filter((t) => t.netPnl > 0).length / trades.length, 12);
    const wins = trades.filter((t) => t.netPnl > 0).reduce((a, t) => a + t.netPnl, 0);
    const losses = -trades.filter((t) => t.netPnl <= 0).reduce((a, t) => a + t.netPnl, 0);
    expect(p.profitFactor).toBeCloseTo(wins / losses, 9);
    expect(p.perSymbol.reduce((a, r) => a + r.trades, 0)).toBe(trades.length);
    expect(p.daily.reduce((a, r) => a + r.netPnl, 0)).toBeCloseTo(net, 9);
    expect(p.weekly.reduce((a, r) => a + r.netPnl, 0)).toBeCloseTo(net, 9);
    // weeks start on Monday 00:00 UTC
    for (const w of p.weekly) expect(new Date(w.time).getUTCDay()).toBe(1);
    expect(p.perStrategy).toEqual([
      expect.objectContaining({ symbol: 'momentum', trades: trades.length, capitalShare: 1, allocation: null }),
    ]);
  });

  it('per strategy: capital share of the entry notional sums to 1; allocation is the mean share of its arms', () => {
    const settings = activeSettings();
    const trades = runBacktest({ settings, series: series(), keepEvents: true }).trades;
    // the trades attributed alternately to two strategies
    const source = (t: (typeof trades)[number]) => (trades.indexOf(t) % 2 === 0 ? 'momentum' : 'breakout');
    const p = performance(trades, 0, source);
    expect(p.perStrategy.map((r) => r.symbol)).toEqual(['breakout', 'momentum']);
    const notional = (s: string) =>
      trades.filter((t) => source(t) === s).reduce((a, t) => a + Math.abs(t.quantity) * t.entryPrice, 0);
    const total = notional('momentum') + notional('breakout');
    for (const r of p.perStrategy) expect(r.capitalShare!).toBeCloseTo(notional(r.symbol) / total, 12);
    expect(p.perStrategy.reduce((a, r) => a + r.capitalShare!, 0)).toBeCloseTo(1, 12);
    expect(p.perStrategy.reduce((a, r) => a + r.trades, 0)).toBe(trades.length);

    const arm = (name: string, share: number): ArmView => ({
      arm: name,
      meanReturn: null,
      pulls: 0,
      judged: false,
      fundedOdds: 1,
      allocation: share === 1 ? 'funded' : 'probe-only',
      share,
    });
    const rows = withAllocation(p.perStrategy, [
      arm('BTCUSDT:momentum', 1),
      arm('ETHUSDT:momentum', 0.25),
      arm('BTCUSDT:breakout', 1),
      arm('BTCUSDT:carry', 0.25),
    ]);
    expect(rows.map((r) => [r.symbol, r.allocation])).toEqual([
      ['breakout', 1],
      ['carry', 0.25],
      ['momentum', 0.625],
    ]);
    // a strategy with arms and no kept trade has a row with no figures yet
    expect(rows[1]).toMatchObject({ trades: 0, winRate: null, capitalShare: null });
  });
});

describe('the feed names a decision’s source once', () => {
  it('the reasoning of a signal without agents is its numbers, spoken by its source', () => {
    const settings = activeSettings();
    const result = runBacktest({ settings, series: series(), keepEvents: true });
    const d = result.decisions.find((x) => x.source === 'momentum')!;
    const feed = { riskState: 'ACTIVE' as const, positions: () => [], entryReason: () => null };
    const reasoning = sseMessages(d, feed, settings).find((m) => m.event === 'reasoning')!;
    const data = reasoning.data as { agent: string; text: string };
    expect(data.agent).toBe('momentum');
    expect(data.text).toBe(signalText(d));
    expect(`${data.agent}: ${data.text}`).not.toMatch(/momentum: momentum:/);
    expect(decisionText(d)).toBe(`momentum: ${signalText(d)}`);
  });
});
