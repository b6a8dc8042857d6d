import type { PipelineEvent } from '../../pipelines/model/index.ts';

/** One point of the series: each strategy's allocation from `time` on (market time). */
export interface AllocationPoint {
  readonly time: number;
  /** strategy → mean over its arms (one per symbol) of the share of the normal size each got */
  readonly shares: Readonly<Record<string, number>>;
}

interface AllocationState {
  points: AllocationPoint[];
  arms: [string, number][];
  entrySource: [string, string][];
}

const KEEP = 500;

/**
 * Each strategy's allocation over time, as the bandit gave it: an arm (symbol × strategy) holds
 * the share of its last entry decision — the `allocated` event's share (1 funded, the probe share
 * when explored, a softmax share under ucb1 / thompson), 0 when the bandit denied a losing arm —
 * and a strategy's allocation is the mean over its arms. A point is kept when that changes, the
 * last KEEP of them; it is part of the read models' snapshot, so a restart keeps the history.
 */
export class AllocationHistory {
  points: AllocationPoint[] = [];
  /** `symbol:strategy` → share of its last entry decision */
  private arms = new Map<string, number>();
  /** symbol → strategy of its last entry decision (a bandit denial names the symbol only) */
  private entrySource = new Map<string, string>();

  constructor(private readonly keep = KEEP) {}

  observe(e: PipelineEvent): void {
    if (e.kind === 'decision') {
      if (e.action !== 'exit' && e.source !== 'external') this.entrySource.set(e.symbol, e.source);
    } else if (e.kind === 'allocated') {
      // an operator's external decision is not a strategy's: it has no place in the series
      if (e.decision.source !== 'external') this.set(e.time, e.arm, e.share);
    } else if (e.kind === 'denied' && e.rule === 'bandit-losing-arm') {
      const source = this.entrySource.get(e.symbol);
      if (source !== undefined) this.set(e.time, `${e.symbol}:${source}`, 0);
    }
  }

  private set(time: number, arm: string, share: number): void {
    if (this.arms.get(arm) === share) return;
    this.arms.set(arm, share);
    const sums = new Map<string, { sum: number; n: number }>();
    for (const [name, s] of this.arms) {
      const strategy = name.slice(name.indexOf(':') + 1);
      const acc = sums.get(strategy) ?? { sum: 0, n: 0 };
      acc.sum += s;
      acc.n++;
      sums.set(strategy, acc);
    }
    const shares: Record<string, number> = {};
    for (const [strategy, { sum, n }] of [...sums].sort((a, b) => a[0].localeCompare(b[0]))) shares[strategy] = sum / n;
    const last = this.points.at(-1);
    if (last !== undefined && sameShares(last.shares, shares)) return;
    // one point per market time: a later change in the same bar replaces it
    if (last !== undefined && last.time === time) this.points[this.points.length - 1] = { time, shares };
    else this.points.push({ time, shares });
    if (this.points.length > this.keep) this.points.splice(0, this.points.length - this.keep);
  }

  snapshot(): AllocationState {
    return { points: this.points, arms: [...this.arms], entrySource: [...this.entrySource] };
  }

  /** `state` undefined: a snapshot written before this history existed — it starts empty */
  restore(state: AllocationState | undefined): void {
    this.points = state?.points ?? [];
    this.arms = new Map(state?.arms ?? []);
    this.entrySource = new Map(state?.entrySource ?? []);
  }
}

function sameShares(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
