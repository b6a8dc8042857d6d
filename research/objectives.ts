import type { BacktestMetrics, ReturnsBasis } from '../backtests/report/metrics.ts';

export const OBJECTIVES = ['sharpe', 'sortino', 'calmar', 'profit', 'profit-drawdown'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

/** The metrics a trial keeps (a small, JSON-friendly subset of the backtest report). */
export interface TrialMetrics {
  trades: number;
  winRate: number;
  totalReturnPct: number;
  netProfit: number;
  sharpe: number;
  sortino: number;
  calmar: number;
  maxDrawdownPct: number;
  profitFactor: number;
  /** the returns Sharpe and Sortino were computed from (absent in studies recorded before it) */
  returnsBasis?: ReturnsBasis;
}

export interface TrialScore {
  /** what the sampler maximises: the objective, or a penalty below every feasible value */
  value: number;
  /** the objective as measured (NaN when undefined, e.g. no trades) */
  raw: number;
  feasible: boolean;
  /** why a trial is infeasible */
  violation?: string;
  metrics: TrialMetrics;
}

/**
 * Penalty floor: an infeasible trial scores PENALTY + (its trade count / min trades), so it is
 * always below any feasible trial yet the sampler still sees "closer to feasible" as better.
 */
export const PENALTY = -1e12;

export function pickMetrics(m: BacktestMetrics): TrialMetrics {
  return {
    trades: m.trades,
    winRate: m.winRate,
    totalReturnPct: m.totalReturnPct,
    netProfit: m.netProfit,
    sharpe: m.sharpe,
    sortino: m.sortino,
    calmar: m.calmar,
    maxDrawdownPct: m.maxDrawdownPct,
    profitFactor: m.profitFactor,
    returnsBasis: m.returnsBasis,
  };
}

/** The objective's raw value: ratios as reported, profit as total return %, drawdown in % points. */
export function objectiveValue(name: ObjectiveName, m: TrialMetrics): number {
  switch (name) {
    case 'sharpe':
      return m.sharpe;
    case 'sortino':
      return m.sortino;
    case 'calmar':
      return m.calmar;
    case 'profit':
      return m.totalReturnPct;
    case 'profit-drawdown':
      return m.totalReturnPct - m.maxDrawdownPct;
  }
}

/** Scores a backtest: the objective, or a penalty when a constraint fails or the value is undefined. */
export function scoreTrial(
  name: ObjectiveName,
  metrics: BacktestMetrics | TrialMetrics,
  minTrades: number,
): TrialScore {
  const m = 'perSymbol' in metrics ? pickMetrics(metrics) : metrics;
  const raw = objectiveValue(name, m);
  if (m.trades < minTrades) {
    return {
      value: PENALTY + m.trades / Math.max(1, minTrades),
      raw,
      feasible: false,
      violation: `${m.trades} trades < min ${minTrades}`,
      metrics: m,
    };
  }
  if (!Number.isFinite(raw)) {
    // ±Infinity (no losing period) is clamped so one lucky trial cannot dominate by infinity
    if (raw === Infinity) return { value: 1e6, raw, feasible: true, metrics: m };
    return { value: PENALTY, raw, feasible: false, violation: `${name} is undefined`, metrics: m };
  }
  return { value: raw, raw, feasible: true, metrics: m };
}
