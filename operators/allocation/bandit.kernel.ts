/** Running statistics of one bandit arm (symbol × signal source). */
export interface ArmStats {
  pulls: number;
  rewardSum: number;
}

export function armMean(a: ArmStats): number {
  return a.pulls === 0 ? 0 : a.rewardSum / a.pulls;
}

/** Adds a closed trade's return, clipped to ±clip so one outlier cannot own the arm. */
export function rewardArm(a: ArmStats, tradeReturn: number, clip: number): void {
  a.pulls++;
  a.rewardSum += Math.max(-clip, Math.min(clip, tradeReturn));
}

export type ArmChoice = { take: true; explored: boolean } | { take: false; mean: number };

/**
 * Epsilon-greedy over the binary choice "fund this arm now or not": an untried arm or one with a
 * non-negative mean realised return is funded (exploit); a losing arm is funded only with
 * probability ε (explore), so it can still prove itself without draining capital.
 */
export function chooseArm(a: ArmStats, epsilon: number, draw: number): ArmChoice {
  const mean = armMean(a);
  if (a.pulls === 0 || mean >= 0) return { take: true, explored: false };
  if (draw < epsilon) return { take: true, explored: true };
  return { take: false, mean };
}
