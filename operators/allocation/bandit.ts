import type { OperatorFunction } from 'rxjs';
import type { AllocatedDecision, Denied, PipelineEvent } from '../../pipelines/model/index.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { createRng, deriveSeed } from '../../pipelines/rng.ts';
import {
  chooseArm,
  emptyArm,
  episodeDraw,
  rewardArm,
  shareAmong,
  thompsonSample,
  ucbIndex,
  type ArmStats,
} from './bandit.kernel.ts';
import type { BanditSettings } from './bandit.settings.ts';

/**
 * Allocation over arms (strategy × symbol), rewarded with the realised net return of each closed
 * trade (windowed, judged after BANDIT_MIN_TRADES). Exit decisions pass untouched.
 * - epsilon-greedy (default): an entry becomes an AllocatedDecision — share 1 when funded,
 *   BANDIT_PROBE_SHARE when explored — or a Denied naming the losing arm;
 * - ucb1 / thompson: every entry is funded with a share of its normal size: 1 before its arm is
 *   judged, then a softmax over the judged arms' UCB1 indices or Thompson samples (temperature
 *   BANDIT_REWARD_CLIP / 4), so capital moves towards the arms that earn.
 * Randomness is seeded per subscription.
 */
export function banditAllocation(
  s: BanditSettings & { SEED: number; BAR_INTERVAL: string },
): OperatorFunction<PipelineEvent, PipelineEvent> {
  const barMs = intervalToMs(s.BAR_INTERVAL);
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => {
    const rng = createRng(deriveSeed(s.SEED, 'bandit'));
    /** arms by symbol, then source (no key strings built on the per-bar path) */
    const arms = new Map<string, Map<string, ArmStats & { name: string }>>();
    /** the arm that funded each symbol's current position */
    const openArm = new Map<string, ArmStats>();
    /** every arm, in creation order (the softmax of ucb1 / thompson runs over the judged ones) */
    const all: ArmStats[] = [];
    const scores: number[] = [];
    const temperature = s.BANDIT_REWARD_CLIP / 4;
    const scoreOf = (a: ArmStats, totalPulls: number): number =>
      s.BANDIT_POLICY === 'ucb1'
        ? ucbIndex(a, totalPulls, s.BANDIT_REWARD_CLIP)
        : thompsonSample(a, s.BANDIT_REWARD_CLIP, rng(), rng());
    /** ucb1 / thompson: the arm's share among the judged arms (1 while it is not judged yet) */
    const softShare = (arm: ArmStats): number => {
      if (arm.pulls < s.BANDIT_MIN_TRADES) return 1;
      let totalPulls = 0;
      for (const a of all) totalPulls += a.pulls;
      scores.length = 0;
      let own = 0;
      for (const a of all) {
        if (a.pulls < s.BANDIT_MIN_TRADES) continue;
        const score = scoreOf(a, totalPulls);
        if (a === arm) own = score;
        scores.push(score);
      }
      return shareAmong(own, scores, temperature);
    };
    const stats = (symbol: string, source: string): ArmStats & { name: string } => {
      let bySource = arms.get(symbol);
      if (bySource === undefined) arms.set(symbol, (bySource = new Map()));
      let a = bySource.get(source);
      if (a === undefined) {
        bySource.set(source, (a = { ...emptyArm(s.BANDIT_WINDOW_TRADES), name: `${symbol}:${source}` }));
        all.push(a);
      }
      return a;
    };
    return {
      next(e) {
        if (e.kind === 'trade-closed') {
          const arm = openArm.get(e.symbol);
          if (arm !== undefined) rewardArm(arm, e.returnPct, s.BANDIT_REWARD_CLIP);
          emit(e);
          return;
        }
        if (e.kind !== 'decision' || e.action === 'exit') {
          emit(e);
          return;
        }
        emit(e);
        const arm = stats(e.symbol, e.source);
        if (s.BANDIT_POLICY !== 'epsilon-greedy') {
          openArm.set(e.symbol, arm);
          const soft: AllocatedDecision = {
            kind: 'allocated',
            time: e.time,
            decision: e,
            arm: arm.name,
            share: softShare(arm),
            explored: false,
          };
          emit(soft);
          return;
        }
        const draw = episodeDraw(arm, e.time, barMs, rng);
        const choice = chooseArm(arm, s.BANDIT_EPSILON, draw, s.BANDIT_MIN_TRADES);
        if (!choice.take) {
          const denied: Denied = {
            kind: 'denied',
            time: e.time,
            symbol: e.symbol,
            stage: 'allocation',
            rule: 'bandit-losing-arm',
            value: choice.mean,
            limit: 0,
            detail: 'the arm’s mean realised return is negative and this draw did not explore it',
            decisionSeq: e.seq,
          };
          emit(denied);
          return;
        }
        openArm.set(e.symbol, arm);
        const out: AllocatedDecision = {
          kind: 'allocated',
          time: e.time,
          decision: e,
          arm: arm.name,
          share: choice.explored ? s.BANDIT_PROBE_SHARE : 1,
          explored: choice.explored,
          mayExplore: draw < s.BANDIT_EPSILON,
        };
        emit(out);
      },
    };
  });
}
