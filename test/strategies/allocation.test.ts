import { describe, expect, it } from 'vitest';
import type { AllocatedDecision, PipelineEvent } from '../../pipelines/model/index.ts';
import { emptyArm, rewardArm, shareAmong, thompsonSample, ucbIndex } from '../../operators/allocation/bandit.kernel.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { runFixture } from '../kit/pipeline-kit.ts';
import { settingsFor } from './kit.ts';

const armWith = (returns: number[]) => {
  const a = emptyArm(100);
  for (const r of returns) rewardArm(a, r, 0.1);
  return a;
};

describe('bandit kernels for a share of capital per arm', () => {
  it('equal scores share capital equally (each arm its normal size); a worse arm gets less, never more than 1', () => {
    expect(shareAmong(0.01, [0.01, 0.01, 0.01], 0.025)).toBeCloseTo(1, 12);
    const worse = shareAmong(-0.02, [0.03, -0.02], 0.025);
    expect(worse).toBeLessThan(0.5);
    expect(shareAmong(0.03, [0.03, -0.02], 0.025)).toBe(1);
  });

  it('UCB1 is optimistic about arms pulled less', () => {
    const few = armWith([0.01, 0.01]);
    const many = armWith(Array.from({ length: 50 }, () => 0.01));
    expect(ucbIndex(few, 52, 0.1)).toBeGreaterThan(ucbIndex(many, 52, 0.1));
  });

  it('a Thompson sample is centred on the mean and narrows with trades', () => {
    const a = armWith([0.02, 0.02, 0.02, 0.02]);
    // u2 = 0.25 makes cos(2πu2) = 0: the sample is the mean
    expect(thompsonSample(a, 0.1, 0.5, 0.25)).toBeCloseTo(0.02, 12);
    const b = armWith(Array.from({ length: 64 }, () => 0.02));
    expect(Math.abs(thompsonSample(b, 0.1, 0.1, 0) - 0.02)).toBeLessThan(
      Math.abs(thompsonSample(a, 0.1, 0.1, 0) - 0.02),
    );
  });
});

describe('allocation over strategy × symbol arms', () => {
  for (const policy of ['ucb1', 'thompson'] as const) {
    it(`${policy}: arms are strategy × symbol and judged arms get shares below 1`, async () => {
      const settings = settingsFor('momentum,trend', { BANDIT_POLICY: policy, BANDIT_MIN_TRADES: 1 });
      const events: PipelineEvent[] = await runFixture(settings);
      const allocated = events.filter((e): e is AllocatedDecision => e.kind === 'allocated');
      const arms = new Set(allocated.map((a) => a.arm));
      expect([...arms].every((a) => /^(BTCUSDT|ETHUSDT):(momentum|trend)$/.test(a))).toBe(true);
      expect(arms.size).toBeGreaterThan(2);
      expect(allocated.some((a) => a.share < 1)).toBe(true);
      expect(allocated.every((a) => a.share > 0 && a.share <= 1 && !a.explored)).toBe(true);
      expect(events.some((e) => e.kind === 'denied' && e.stage === 'allocation')).toBe(false);
      // the same seed gives the same allocation
      const again = (await runFixture(settings)).filter((e) => e.kind === 'allocated');
      expect(again).toEqual(allocated);
    });
  }

  it('the backtest result gives per-strategy trades, PnL, win rate and allocation, adding up to the run', () => {
    const settings = settingsFor('momentum,trend', { BANDIT_POLICY: 'ucb1', BANDIT_MIN_TRADES: 1 });
    const result = runBacktest({ settings, series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')] });
    const names = result.strategies.map((s) => s.strategy).sort();
    expect(names).toEqual(['momentum', 'trend']);
    expect(result.strategies.reduce((n, s) => n + s.trades, 0)).toBe(result.trades.length);
    const pnl = result.trades.reduce((x, t) => x + t.netPnl, 0);
    expect(result.strategies.reduce((x, s) => x + s.netPnl, 0)).toBeCloseTo(pnl, 6);
    for (const s of result.strategies) {
      expect(s.winRate).toBeGreaterThanOrEqual(0);
      expect(s.winRate).toBeLessThanOrEqual(1);
      expect(s.allocation.length).toBe(s.entries);
    }
  });
});
