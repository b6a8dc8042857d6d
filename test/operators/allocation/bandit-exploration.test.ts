import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import type {
  AllocatedDecision,
  Decision,
  Denied,
  PipelineEvent,
  TradeClosed,
} from '../../../pipelines/model/index.ts';
import { banditStage } from '../../../operators/allocation/bandit.stage.ts';
import { runStages } from '../../../pipelines/stage-runner.ts';
import { parseSettings } from '../../../pipelines/settings.ts';

/** The bandit's exploration path, through its stage: a losing arm is funded only on exploring draws. */

const BAR = 300_000;
const T0 = 1_760_000_100_000 - (1_760_000_100_000 % BAR);

const decision = (bar: number): Decision =>
  ({
    kind: 'decision',
    time: T0 + bar * BAR,
    symbol: 'BTCUSDT',
    seq: bar,
    action: 'enter-long',
    confidence: 1,
    source: 'momentum',
    price: 90_000,
    gates: [],
    opinions: [],
  }) as unknown as Decision;

const loss = (bar: number): TradeClosed =>
  ({ kind: 'trade-closed', time: T0 + bar * BAR, symbol: 'BTCUSDT', returnPct: -0.01 }) as unknown as TradeClosed;

async function run(epsilon: number, episodes: number): Promise<PipelineEvent[]> {
  const s = parseSettings({ BANDIT_EPSILON: epsilon, BANDIT_MIN_TRADES: 2, BANDIT_PROBE_SHARE: 0.25, SEED: 7 });
  const input: PipelineEvent[] = [];
  // two funded entries that lose: the arm is judged, and losing
  for (const bar of [0, 10]) input.push(decision(bar), loss(bar + 5));
  // then one decision per episode (episodes are separated by gaps, so each gets its own draw)
  for (let k = 0; k < episodes; k++) input.push(decision(100 + 3 * k));
  return lastValueFrom(from(input).pipe(runStages([banditStage(s)]), toArray()));
}

describe('bandit exploration', () => {
  it('funds a losing arm only as an exploration, at the probe share, on about ε of its episodes', async () => {
    const out = await run(0.3, 400);
    const allocated = out.filter((e): e is AllocatedDecision => e.kind === 'allocated');
    const explored = allocated.filter((a) => a.decision.seq >= 100);
    const denied = out.filter((e): e is Denied => e.kind === 'denied');
    expect(allocated.slice(0, 2).every((a) => !a.explored && a.share === 1)).toBe(true);
    expect(explored.every((a) => a.explored && a.share === 0.25 && a.mayExplore === true)).toBe(true);
    expect(denied.every((d) => d.rule === 'bandit-losing-arm' && d.value < 0)).toBe(true);
    expect(explored.length + denied.length).toBe(400);
    expect(explored.length / 400).toBeGreaterThan(0.22);
    expect(explored.length / 400).toBeLessThan(0.38);
  });

  it('never explores with ε = 0, and draws the same explorations for the same seed', async () => {
    expect((await run(0, 200)).filter((e) => e.kind === 'allocated')).toHaveLength(2);
    expect(await run(0.3, 100)).toEqual(await run(0.3, 100));
  });
});
