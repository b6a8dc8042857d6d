import type { OperatorFunction } from 'rxjs';
import type { AllocatedDecision, Denied, PipelineEvent } from '../../pipelines/model/index.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { createRng, deriveSeed } from '../../pipelines/rng.ts';
import { chooseArm, emptyArm, episodeDraw, rewardArm, type ArmStats } from './bandit.kernel.ts';
import type { BanditSettings } from './bandit.settings.ts';

/**
 * Epsilon-greedy allocation over arms (symbol × signal source), rewarded with the realised net
 * return of each closed trade (windowed, judged after BANDIT_MIN_TRADES). Entry decisions become
 * AllocatedDecision — share 1 when funded, BANDIT_PROBE_SHARE when explored — or a Denied naming
 * the losing arm; exit decisions pass untouched. Randomness is seeded per subscription.
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
    const stats = (symbol: string, source: string): ArmStats & { name: string } => {
      let bySource = arms.get(symbol);
      if (bySource === undefined) arms.set(symbol, (bySource = new Map()));
      let a = bySource.get(source);
      if (a === undefined)
        bySource.set(source, (a = { ...emptyArm(s.BANDIT_WINDOW_TRADES), name: `${symbol}:${source}` }));
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
