import type { PipelineEvent } from '../../pipelines/model/index.ts';

/** One strategy's part of a run: its closed trades and the capital shares its arms were given. */
export interface StrategyStats {
  strategy: string;
  trades: number;
  /** net of fees and funding, USDT */
  netPnl: number;
  /** winning trades / trades (0 without trades) */
  winRate: number;
  /** entry orders sent, and their mean share of the normal size */
  entries: number;
  meanShare: number;
  /** the share each entry order got, in time order (allocation over time) */
  allocation: { time: number; arm: string; share: number }[];
}

interface Tally {
  trades: number;
  wins: number;
  netPnl: number;
  shares: { time: number; arm: string; share: number }[];
}

/**
 * Attributes a run's trades to strategies. A position belongs to the strategy whose allocated
 * entry decision sent its opening order (one-way mode: one position per symbol at a time).
 */
export function strategyBook(): { observe(e: PipelineEvent): void; result(): StrategyStats[] } {
  const tallies = new Map<string, Tally>();
  const lastAllocated = new Map<string, { source: string; arm: string; share: number }>();
  const openedBy = new Map<string, string>();
  const tally = (name: string): Tally => {
    let t = tallies.get(name);
    if (t === undefined) tallies.set(name, (t = { trades: 0, wins: 0, netPnl: 0, shares: [] }));
    return t;
  };
  return {
    observe(e) {
      if (e.kind === 'allocated') {
        lastAllocated.set(e.decision.symbol, { source: e.decision.source, arm: e.arm, share: e.share });
      } else if (e.kind === 'order' && e.reason === 'entry') {
        // the entry that reached the venue: its allocation is the one that counts
        const a = lastAllocated.get(e.symbol);
        if (a === undefined) return;
        openedBy.set(e.symbol, a.source);
        tally(a.source).shares.push({ time: e.time, arm: a.arm, share: a.share });
      } else if (e.kind === 'trade-closed') {
        const t = tally(openedBy.get(e.symbol) ?? 'unattributed');
        t.trades++;
        if (e.netPnl > 0) t.wins++;
        t.netPnl += e.netPnl;
      }
    },
    result() {
      return [...tallies.entries()].map(([strategy, t]) => ({
        strategy,
        trades: t.trades,
        netPnl: t.netPnl,
        winRate: t.trades > 0 ? t.wins / t.trades : 0,
        entries: t.shares.length,
        meanShare: t.shares.length > 0 ? t.shares.reduce((s, x) => s + x.share, 0) / t.shares.length : 0,
        allocation: t.shares,
      }));
    },
  };
}
