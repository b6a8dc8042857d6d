import { describe, expect, it } from 'vitest';
import { firstValueFrom, toArray } from 'rxjs';
import type { PipelineEvent, PortfolioSnapshot } from '../../pipelines/model/index.ts';
import { mergedFixtureBars } from '../kit/fixture-bars.ts';
import { activeSettings, pipelineOver, runFixture } from '../kit/pipeline-kit.ts';

const bars = mergedFixtureBars(['BTCUSDT', 'ETHUSDT']);

function lastSnapshot(events: readonly PipelineEvent[]): PortfolioSnapshot {
  const s = events.filter((e): e is PortfolioSnapshot => e.kind === 'portfolio').at(-1);
  if (s === undefined) throw new Error('no snapshot');
  return s;
}

/**
 * Equity from cash flows alone, independent of the ledger's average-entry bookkeeping:
 * initial − Σ buys + Σ sells − fees − funding + Σ (open quantity × last close).
 */
function cashFlowEquity(events: readonly PipelineEvent[], initial: number): number {
  let cash = initial;
  const qty = new Map<string, number>();
  const lastClose = new Map<string, number>();
  for (const e of events) {
    if (e.kind === 'fill') {
      const signed = e.side === 'BUY' ? e.quantity : -e.quantity;
      cash -= signed * e.price + e.fee;
      qty.set(e.symbol, (qty.get(e.symbol) ?? 0) + signed);
    } else if (e.kind === 'funding') cash -= e.amount;
    else if (e.kind === 'bar') lastClose.set(e.symbol, e.close);
  }
  for (const [symbol, q] of qty) cash += q * lastClose.get(symbol)!;
  return cash;
}

describe('invariant (a): accounting identity', () => {
  for (const label of ['flat at the end', 'with positions still open at the end'] as const) {
    it(`final equity = initial + realised − fees − funding + unrealised, to 1e-9 (${label})`, async () => {
      // arms judged from their first trade: with these settings the fixture ends flat
      const settings = activeSettings({ BANDIT_MIN_TRADES: 0, BANDIT_EPSILON: 0.1 });
      let upTo = bars.length;
      if (label !== 'flat at the end') {
        // cut the data one bar before the last trade closes: that position is still open
        const lastClose = (await runFixture(settings)).filter((e) => e.kind === 'trade-closed').at(-1)!;
        upTo = bars.findIndex((b) => b.time >= lastClose.time) - 1;
      }
      const events = await runFixture(settings, bars.slice(0, upTo));
      const final = lastSnapshot(events);
      const fees = events.reduce((s, e) => s + (e.kind === 'fill' ? e.fee : 0), 0);
      const funding = events.reduce((s, e) => s + (e.kind === 'funding' ? e.amount : 0), 0);
      expect(events.filter((e) => e.kind === 'fill').length).toBeGreaterThan(10);
      expect(final.feesPaid).toBeCloseTo(fees, 9);
      expect(final.fundingPaid).toBeCloseTo(funding, 9);
      const identity =
        settings.INITIAL_BALANCE + final.realizedPnl - final.feesPaid - final.fundingPaid + final.unrealizedPnl;
      expect(Math.abs(final.equity - identity) / final.equity).toBeLessThan(1e-9);
      const independent = cashFlowEquity(events, settings.INITIAL_BALANCE);
      expect(Math.abs(final.equity - independent) / final.equity).toBeLessThan(1e-9);
      if (label !== 'flat at the end') expect(final.positions.length).toBeGreaterThan(0);
      else {
        const closed = events.filter((e) => e.kind === 'trade-closed');
        const net = closed.reduce((s, e) => s + (e.kind === 'trade-closed' ? e.netPnl : 0), 0);
        expect(final.positions).toHaveLength(0);
        expect(Math.abs(settings.INITIAL_BALANCE + net - final.equity)).toBeLessThan(1e-6);
      }
    });
  }
});

describe('invariant (b): no look-ahead', () => {
  const decisionsOf = (events: readonly PipelineEvent[], upTo: number) =>
    events.filter(
      (e) =>
        (e.kind === 'decision' || e.kind === 'intent' || e.kind === 'order' || e.kind === 'denied') && e.time <= upTo,
    );

  it('decisions before each cut are identical whether the data ends at the cut or goes on', async () => {
    const settings = activeSettings();
    const full = await runFixture(settings, bars);
    let compared = 0;
    for (const cut of [650, 900, 1_190, 1_600, 2_000, 2_250]) {
      const cutTime = bars[cut - 1]!.time;
      const truncated = await runFixture(settings, bars.slice(0, cut));
      const before = decisionsOf(full, cutTime);
      expect(decisionsOf(truncated, cutTime)).toEqual(before);
      compared += before.length;
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('never fills an order on the bar that produced it', async () => {
    const events = await runFixture(activeSettings(), bars);
    const orderTime = new Map<string, number>();
    for (const e of events) {
      if (e.kind === 'order') orderTime.set(e.clientOrderId, e.time);
      if (e.kind === 'fill') expect(e.time).toBeGreaterThanOrEqual(orderTime.get(e.clientOrderId)!);
    }
    const marketFills = events.filter((e) => e.kind === 'fill' && (e.reason === 'entry' || e.reason === 'exit'));
    expect(marketFills.length).toBeGreaterThan(0);
  });
});

describe('invariant (c): determinism', () => {
  it('the same inputs and seed give byte-identical event streams, also across subscriptions', async () => {
    const settings = activeSettings({ BANDIT_EPSILON: 0.5 });
    const a = JSON.stringify(await runFixture(settings));
    const b = JSON.stringify(await runFixture(settings));
    expect(b).toBe(a);
    const pipeline = pipelineOver(bars, settings);
    const [x, y] = await Promise.all([
      firstValueFrom(pipeline.pipe(toArray())),
      firstValueFrom(pipeline.pipe(toArray())),
    ]);
    expect(JSON.stringify(x)).toBe(a);
    expect(JSON.stringify(y)).toBe(a);
  });

  it('a different seed changes the bandit’s exploration and so the trades', async () => {
    const trades = async (seed: number) =>
      JSON.stringify(
        (await runFixture(activeSettings({ BANDIT_EPSILON: 0.5, BANDIT_MIN_TRADES: 2, SEED: seed }))).filter(
          (e) => e.kind === 'fill',
        ),
      );
    const seeds = await Promise.all([1, 2, 3, 4].map(trades));
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });
});
