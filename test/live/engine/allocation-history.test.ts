import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../pipelines/model/index.ts';
import { AllocationHistory } from '../../../live/engine/allocation-history.ts';
import { allocationSeries } from '../../../live/service/desk.kernel.ts';
import { testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
const open: Service[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const TWO = { STRATEGIES: 'momentum,breakout', MAX_CONCURRENT_POSITIONS: 2, JOURNAL_SNAPSHOT_EVERY: 50 };

/**
 * The expected series, straight from the events: every entry the bandit decided on (its share,
 * or 0 when it denied a losing arm, found through the decision it denied) sets its arm; after
 * each, each strategy's mean over its arms; a point whenever those means change.
 */
function expectedPoints(events: readonly PipelineEvent[]): { time: number; shares: Record<string, number> }[] {
  const arms = new Map<string, number>();
  const out: { time: number; shares: Record<string, number> }[] = [];
  events.forEach((e, i) => {
    let arm: string | undefined;
    let share = 0;
    if (e.kind === 'allocated' && e.decision.source !== 'external') {
      arm = e.arm;
      share = e.share;
    } else if (e.kind === 'denied' && e.rule === 'bandit-losing-arm') {
      const d = events.slice(0, i).findLast((x) => x.kind === 'decision' && x.seq === e.decisionSeq);
      if (d?.kind === 'decision') arm = `${d.symbol}:${d.source}`;
    }
    if (arm === undefined) return;
    arms.set(arm, share);
    const shares: Record<string, number> = {};
    for (const strategy of [...new Set([...arms.keys()].map((a) => a.split(':')[1]!))].sort()) {
      const mine = [...arms].filter(([a]) => a.split(':')[1] === strategy).map(([, s]) => s);
      shares[strategy] = mine.reduce((x, y) => x + y, 0) / mine.length;
    }
    const last = out.at(-1);
    if (last && JSON.stringify(last.shares) === JSON.stringify(shares)) return;
    if (last && last.time === e.time) last.shares = shares;
    else out.push({ time: e.time, shares });
  });
  return out;
}

describe('allocation over time (read model)', () => {
  // arms judged after one trade, so shares move within the fixture's bars
  it.each([
    ['epsilon-greedy', { BANDIT_POLICY: 'epsilon-greedy', BANDIT_MIN_TRADES: 1, BANDIT_EPSILON: 0.3 }],
    ['ucb1', { BANDIT_POLICY: 'ucb1', BANDIT_MIN_TRADES: 1 }],
  ])(
    '%s: follows the bandit’s allocated and denied events of two strategies, bounded, and survives a restart',
    async (_policy, bandit) => {
      const settings = { ...TWO, ...bandit };
      const s = await testService({ settings });
      open.push(s);
      for (let i = 0; i < 1500 && s.engine.read.allocations.length < 6; i++) await s.feed(1);
      const expected = expectedPoints(s.sent);
      // the epsilon-greedy run must have seen a denied arm (0), the ucb1 run none
      const denials = s.sent.filter((e) => e.kind === 'denied' && e.rule === 'bandit-losing-arm').length;
      expect(denials > 0).toBe(bandit.BANDIT_POLICY === 'epsilon-greedy');
      expect(expected.length).toBeGreaterThanOrEqual(4);
      expect(s.engine.read.allocations).toEqual(expected);
      for (const p of s.engine.read.allocations)
        for (const v of Object.values(p.shares)) expect(v >= 0 && v <= 1).toBe(true);

      // bounded: a history keeping 2 points holds the last 2 of the same events
      const small = new AllocationHistory(2);
      for (const e of s.sent) small.observe(e);
      expect(small.points).toEqual(expected.slice(-2));

      // a restart from the journal's snapshot (and the replay after it) shows the same history
      s.journal.close();
      const again = await testService({ settings, journalPath: s.journalPath });
      open.push(again);
      expect(again.engine.read.allocations).toEqual(s.engine.read.allocations);
    },
    120_000,
  );

  it('serves one step series per strategy, carried on to the last bar', () => {
    const points: { time: number; shares: Record<string, number> }[] = [
      { time: 10, shares: { momentum: 1 } },
      { time: 20, shares: { breakout: 0.5, momentum: 1 } },
      { time: 30, shares: { breakout: 0.5, momentum: 0.75 } },
    ];
    expect(allocationSeries(points, 50)).toEqual([
      {
        strategy: 'breakout',
        points: [
          { time: 20, share: 0.5 },
          { time: 50, share: 0.5 },
        ],
      },
      {
        strategy: 'momentum',
        points: [
          { time: 10, share: 1 },
          { time: 30, share: 0.75 },
          { time: 50, share: 0.75 },
        ],
      },
    ]);
    expect(allocationSeries([], 50)).toEqual([]);
  });
});
