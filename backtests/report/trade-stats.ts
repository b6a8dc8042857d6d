import { mean } from 'simple-statistics';
import type { TradeClosed } from '../../pipelines/model/index.ts';

/** Statistics of closed trades alone (no equity curve): profit factor, long vs short, streaks. */

/** Gross won / gross lost: ∞ with no loss, NaN with no trade that moved. */
export function profitFactorOf(trades: readonly TradeClosed[]): number {
  let won = 0;
  let lost = 0;
  for (const t of trades) {
    if (t.netPnl > 0) won += t.netPnl;
    else lost -= t.netPnl;
  }
  return lost > 0 ? won / lost : won > 0 ? Infinity : Number.NaN;
}

export interface SideStats {
  side: 'LONG' | 'SHORT';
  trades: number;
  winRate: number;
  netPnl: number;
  profitFactor: number;
  avgReturnPct: number;
  avgDurationMs: number;
}

/** Long and short trades apart. */
export function sideBreakdown(trades: readonly TradeClosed[]): SideStats[] {
  return (['LONG', 'SHORT'] as const).map((side) => {
    const group = trades.filter((t) => t.side === side);
    return {
      side,
      trades: group.length,
      winRate: group.length ? group.filter((t) => t.netPnl > 0).length / group.length : Number.NaN,
      netPnl: group.reduce((s, t) => s + t.netPnl, 0),
      profitFactor: profitFactorOf(group),
      avgReturnPct: group.length ? mean(group.map((t) => t.returnPct)) * 100 : Number.NaN,
      avgDurationMs: group.length ? mean(group.map((t) => t.time - t.openedAt)) : Number.NaN,
    };
  });
}

/** Longest runs of winning and of losing trades in closing order (a break-even trade ends both). */
export function streaks(trades: readonly TradeClosed[]): { maxConsecutiveWins: number; maxConsecutiveLosses: number } {
  const ordered = [...trades].sort((a, b) => a.time - b.time);
  let wins = 0;
  let losses = 0;
  let maxConsecutiveWins = 0;
  let maxConsecutiveLosses = 0;
  for (const t of ordered) {
    wins = t.netPnl > 0 ? wins + 1 : 0;
    losses = t.netPnl < 0 ? losses + 1 : 0;
    maxConsecutiveWins = Math.max(maxConsecutiveWins, wins);
    maxConsecutiveLosses = Math.max(maxConsecutiveLosses, losses);
  }
  return { maxConsecutiveWins, maxConsecutiveLosses };
}
