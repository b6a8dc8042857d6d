/**
 * Running statistics of one bandit arm (symbol × signal source) over its most recent trades:
 * a ring of clipped returns and their running sum, so old regimes leave the estimate.
 */
export interface ArmStats {
  /** closed trades ever recorded */
  pulls: number;
  /** Σ of the clipped returns inside the window */
  rewardSum: number;
  readonly ring: Float64Array;
  /** time of the arm's last entry decision, and the draw its signal episode got */
  lastDecision: number;
  draw: number;
}

export function emptyArm(window: number): ArmStats {
  return {
    pulls: 0,
    rewardSum: 0,
    ring: new Float64Array(Math.max(1, window)),
    lastDecision: Number.NEGATIVE_INFINITY,
    draw: 0,
  };
}

/**
 * One random draw per signal episode. Consensus repeats an entry decision on every bar the
 * signal holds while flat, so a per-decision draw would explore a losing arm on almost every
 * episode (1 − 0.9¹⁰ = 65 % of 10-bar episodes at ε = 0.1). Decisions on consecutive bars share
 * the episode's first draw; a closed trade (rewardArm) starts a new episode.
 */
export function episodeDraw(a: ArmStats, time: number, barMs: number, next: () => number): number {
  if (!(time - a.lastDecision <= barMs)) a.draw = next();
  a.lastDecision = time;
  return a.draw;
}

/** Mean clipped return over the window (0 before any trade). */
export function armMean(a: ArmStats): number {
  const n = Math.min(a.pulls, a.ring.length);
  return n === 0 ? 0 : a.rewardSum / n;
}

/** Adds a closed trade's return, clipped to ±clip so one outlier cannot own the arm. */
export function rewardArm(a: ArmStats, tradeReturn: number, clip: number): void {
  const r = Math.max(-clip, Math.min(clip, tradeReturn));
  const slot = a.pulls % a.ring.length;
  if (a.pulls >= a.ring.length) a.rewardSum -= a.ring[slot]!;
  a.ring[slot] = r;
  a.rewardSum += r;
  a.pulls++;
  a.lastDecision = Number.NEGATIVE_INFINITY;
  // once per lap, re-add the window so rounding from the subtractions cannot build up
  if (slot === a.ring.length - 1) a.rewardSum = a.ring.reduce((sum, x) => sum + x, 0);
}

export type ArmChoice =
  { readonly take: true; readonly explored: boolean } | { readonly take: false; readonly mean: number };

// the two ways to take an arm, made once: this runs on every entry decision
const EXPLOIT: ArmChoice = Object.freeze({ take: true, explored: false });
const EXPLORE: ArmChoice = Object.freeze({ take: true, explored: true });

/**
 * Epsilon-greedy over the binary choice "fund this arm now or not". An arm is judged only once it
 * has `minTrades` closed trades: before that its mean is noise (one early loss used to condemn an
 * arm for good). A judged arm with a non-negative windowed mean is funded (exploit); a losing one
 * only with probability ε (explore), so it can still prove itself without draining capital.
 */
export function chooseArm(a: ArmStats, epsilon: number, draw: number, minTrades: number): ArmChoice {
  const mean = armMean(a);
  if (a.pulls < minTrades || mean >= 0) return EXPLOIT;
  if (draw < epsilon) return EXPLORE;
  return { take: false, mean };
}

/**
 * UCB1 index of a judged arm: its windowed mean plus an optimism bonus that shrinks as it is
 * pulled, scaled to the reward range (±clip). `totalPulls` is over every arm.
 */
export function ucbIndex(a: ArmStats, totalPulls: number, clip: number): number {
  return armMean(a) + clip * Math.sqrt((2 * Math.log(Math.max(1, totalPulls))) / Math.max(1, a.pulls));
}

/**
 * Gaussian Thompson sample of an arm's mean: mean + N(0, 1) × clip / √(n + 1), from two uniform
 * draws (Box–Muller), so the same seed gives the same sample.
 */
export function thompsonSample(a: ArmStats, clip: number, u1: number, u2: number): number {
  const z = Math.sqrt(-2 * Math.log(Math.max(1e-12, u1))) * Math.cos(2 * Math.PI * u2);
  const n = Math.min(a.pulls, a.ring.length);
  return armMean(a) + (z * clip) / Math.sqrt(n + 1);
}

/**
 * The share of capital an arm gets among the judged arms: a softmax of their scores at
 * temperature `temperature`, times their count, so an average arm gets 1 (its normal size), a
 * better one up to 1 (never more than the sizing budget) and a worse one less.
 */
export function shareAmong(score: number, scores: readonly number[], temperature: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const s of scores) if (s > max) max = s;
  let sum = 0;
  for (const s of scores) sum += Math.exp((s - max) / temperature);
  return Math.min(1, (scores.length * Math.exp((score - max) / temperature)) / sum);
}
