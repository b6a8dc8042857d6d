import { mean, sampleStandardDeviation } from 'simple-statistics';
import type { TradeClosed } from '../../pipelines/model/index.ts';
import { profitFactorOf, sideBreakdown, streaks, type SideStats } from './trade-stats.ts';

export { profitFactorOf };

/**
 * The report's numbers (SPEC §3.1), computed from the equity curve and the closed trades only,
 * so they can be recomputed from result.json + equity.csv by anyone.
 *
 * Conventions (stated because every platform picks differently):
 * - Sharpe/Sortino use DAILY returns of equity sampled at 00:00 UTC, annualised by √365
 *   (crypto trades every day), risk-free rate 0. Runs shorter than 30 days fall back to per-bar
 *   returns annualised by √(bars per year), since a handful of daily returns says nothing.
 *   The choice is made once per run from the run's whole span (`returnsBasis`); a walk-forward
 *   study chooses it from the whole data and passes it to every fold, so train and test windows
 *   are scored by the same estimator.
 * - Sortino's downside deviation is √(mean(min(r, 0)²)) over all returns.
 * - CAGR compounds the total return over the time the data covers: time steps × bar interval, so
 *   a hole in the data (no bars at all) adds no time; Calmar = CAGR / max drawdown.
 * - Drawdown duration is counted the same way (time steps × interval since the peak).
 * - SQN = √n · mean(R) / sd(R) with R the trade's net return on entry notional (Van Tharp uses
 *   R-multiples; with fixed stops these differ by a constant factor, which SQN ignores).
 * - Values that do not exist (profit factor without a losing trade, Sharpe with no variance) are
 *   NaN/Infinity in memory and null in JSON.
 */
export interface GroupStats {
  key: string;
  trades: number;
  winRate: number;
  netPnl: number;
  avgReturnPct: number;
}

export interface SymbolStats extends GroupStats {
  buyAndHoldPct: number;
}

/** Which returns Sharpe/Sortino use: daily at 00:00 UTC, or per bar. */
export type ReturnsBasis = 'daily' | 'bar';
/**
 * Headline figures of one group of trades: `funded` (entries the bandit funded on the arm's
 * record) or `explored` (bandit explorations: probes of a losing arm, or entries Kelly had no
 * edge for), so a few probes cannot hide, or pass for, the strategy's real trades.
 */
export interface FundingStats {
  key: 'funded' | 'explored';
  trades: number;
  winRate: number;
  netPnl: number;
  profitFactor: number;
  /** median entry notional (USDT) */
  medianNotional: number;
}

export interface BacktestMetrics {
  bars: number;
  /** the wallet the run starts with (INITIAL_BALANCE), USDT */
  initialCapital: number;
  /** the returns Sharpe and Sortino were computed from */
  returnsBasis: ReturnsBasis;
  trades: number;
  winRate: number;
  netProfit: number;
  totalReturnPct: number;
  cagrPct: number;
  sharpe: number;
  sortino: number;
  calmar: number;
  profitFactor: number;
  expectancy: number;
  sqn: number;
  maxDrawdownPct: number;
  maxDrawdownDurationMs: number;
  exposurePct: number;
  feesPaid: number;
  fundingPaid: number;
  bestTradePct: number;
  worstTradePct: number;
  avgTradeDurationMs: number;
  buyAndHoldPct: number;
  finalEquity: number;
  perSymbol: SymbolStats[];
  exitReasons: GroupStats[];
  /** largest Σ |notional| / equity seen in a portfolio snapshot */
  maxGrossLeverage: number;
  /** largest initial margin (notional / LEVERAGE) / equity, in % */
  maxMarginUsagePct: number;
  /** largest maintenance margin / equity (margin balance), in %: 100 % is liquidation */
  maxMaintenanceMarginPct: number;
  /** trades closed by the venue's liquidation */
  liquidations: number;
  /** funded trades and explorations apart (TradeClosed.explored) */
  byFunding: FundingStats[];
  /** longest run of winning trades, in closing order */
  maxConsecutiveWins: number;
  /** longest run of losing trades, in closing order */
  maxConsecutiveLosses: number;
  /** long and short trades apart */
  bySide: SideStats[];
}

export interface MetricsInput {
  equity: readonly { time: number; equity: number }[];
  trades: readonly TradeClosed[];
  initialBalance: number;
  feesPaid: number;
  fundingPaid: number;
  barIntervalMs: number;
  /** time steps with at least one open position */
  exposedBars: number;
  /** first open and last close per symbol over the run (for buy-and-hold) */
  prices: Record<string, { first: number; last: number }>;
  /** the Sharpe/Sortino estimator; default: chosen from this run's own span */
  returnsBasis?: ReturnsBasis;
  /** the largest ratios seen in the portfolio snapshots (see `MarginPeaks`); absent = 0 */
  margin?: MarginPeaks;
}

/** Peaks of the account's margin over a run, tracked from its portfolio snapshots. */
export interface MarginPeaks {
  maxGrossLeverage: number;
  maxMarginUsage: number;
  maxMaintenanceMargin: number;
}

export function emptyMarginPeaks(): MarginPeaks {
  return { maxGrossLeverage: 0, maxMarginUsage: 0, maxMaintenanceMargin: 0 };
}

/**
 * Folds one snapshot into the peaks. Ratios are to equity (the margin balance); a snapshot with
 * equity ≤ 0 counts as infinite usage (the account is gone).
 */
export function trackMarginPeaks(
  peaks: MarginPeaks,
  snap: { equity: number; grossExposure: number; marginUsed: number; maintenanceMargin?: number },
): void {
  const mm = snap.maintenanceMargin ?? 0;
  if (snap.grossExposure === 0 && mm === 0) return;
  const ratio = (x: number): number => (snap.equity > 0 ? x / snap.equity : Infinity);
  peaks.maxGrossLeverage = Math.max(peaks.maxGrossLeverage, ratio(snap.grossExposure));
  peaks.maxMarginUsage = Math.max(peaks.maxMarginUsage, ratio(snap.marginUsed));
  peaks.maxMaintenanceMargin = Math.max(peaks.maxMaintenanceMargin, ratio(mm));
}

const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;

function groupStats(key: string, trades: readonly TradeClosed[]): GroupStats {
  const wins = trades.filter((t) => t.netPnl > 0).length;
  return {
    key,
    trades: trades.length,
    winRate: trades.length ? wins / trades.length : Number.NaN,
    netPnl: trades.reduce((s, t) => s + t.netPnl, 0),
    avgReturnPct: trades.length ? mean(trades.map((t) => t.returnPct)) * 100 : Number.NaN,
  };
}

export function fundingStats(trades: readonly TradeClosed[]): FundingStats[] {
  return (['funded', 'explored'] as const).map((key) => {
    const group = trades.filter((t) => (t.explored === true) === (key === 'explored'));
    const notionals = group.map((t) => t.quantity * t.entryPrice).sort((a, b) => a - b);
    const mid = notionals.length >> 1;
    return {
      key,
      trades: group.length,
      winRate: group.length ? group.filter((t) => t.netPnl > 0).length / group.length : Number.NaN,
      netPnl: group.reduce((s, t) => s + t.netPnl, 0),
      profitFactor: profitFactorOf(group),
      medianNotional:
        notionals.length === 0
          ? Number.NaN
          : notionals.length % 2
            ? notionals[mid]!
            : (notionals[mid - 1]! + notionals[mid]!) / 2,
    };
  });
}

function groupBy(trades: readonly TradeClosed[], key: (t: TradeClosed) => string): Map<string, TradeClosed[]> {
  const m = new Map<string, TradeClosed[]>();
  for (const t of trades) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return m;
}

/** The estimator a span calls for: daily returns from 30 days of equity rows up, per bar below. */
export function returnsBasisFor(spanMs: number): ReturnsBasis {
  return spanMs >= 30 * DAY_MS ? 'daily' : 'bar';
}

/**
 * Period returns of the equity curve: daily at 00:00 UTC, or per bar (by default chosen from the
 * curve's own span; pass `basis` to use the estimator chosen for a whole study).
 */
export function periodReturns(
  equity: MetricsInput['equity'],
  barIntervalMs: number,
  basis?: ReturnsBasis,
): { returns: number[]; perYear: number; basis: ReturnsBasis } {
  const chosen = basis ?? returnsBasisFor(equity.length ? equity[equity.length - 1]!.time - equity[0]!.time : 0);
  if (equity.length < 2) return { returns: [], perYear: 1, basis: chosen };
  const samples: number[] = [];
  let perYear: number;
  if (chosen === 'daily') {
    perYear = 365;
    let day = Math.floor(equity[0]!.time / DAY_MS);
    samples.push(equity[0]!.equity);
    for (let i = 1; i < equity.length; i++) {
      const d = Math.floor(equity[i]!.time / DAY_MS);
      if (d !== day) {
        // the equity at the last step of the previous day closes that day
        samples.push(equity[i - 1]!.equity);
        day = d;
      }
    }
    samples.push(equity[equity.length - 1]!.equity);
  } else {
    perYear = YEAR_MS / barIntervalMs;
    for (const p of equity) samples.push(p.equity);
  }
  const returns: number[] = [];
  for (let i = 1; i < samples.length; i++) returns.push(samples[i]! / samples[i - 1]! - 1);
  return { returns, perYear, basis: chosen };
}

/** Annualised Sharpe and Sortino of an equity curve with the given (or its own) estimator. */
export function riskRatios(
  equity: MetricsInput['equity'],
  barIntervalMs: number,
  basis?: ReturnsBasis,
): { sharpe: number; sortino: number; returnsBasis: ReturnsBasis } {
  const { returns, perYear, basis: chosen } = periodReturns(equity, barIntervalMs, basis);
  const avg = returns.length ? mean(returns) : Number.NaN;
  const sd = returns.length > 1 ? sampleStandardDeviation(returns) : Number.NaN;
  const downside = returns.length ? Math.sqrt(mean(returns.map((r) => Math.min(r, 0) ** 2))) : Number.NaN;
  return {
    sharpe: sd > 0 ? (avg / sd) * Math.sqrt(perYear) : Number.NaN,
    sortino: downside > 0 ? (avg / downside) * Math.sqrt(perYear) : Number.NaN,
    returnsBasis: chosen,
  };
}

/**
 * Max drawdown and its longest duration. With `stepMs`, durations are time steps × stepMs (time
 * with data: a hole in the data does not lengthen a drawdown); without it, clock time.
 */
export function drawdownStats(
  equity: MetricsInput['equity'],
  stepMs?: number,
): { maxDrawdown: number; maxDurationMs: number } {
  let peak = -Infinity;
  let peakTime = 0;
  let peakIndex = 0;
  let maxDrawdown = 0;
  let maxDurationMs = 0;
  for (let i = 0; i < equity.length; i++) {
    const p = equity[i]!;
    if (p.equity >= peak) {
      peak = p.equity;
      peakTime = p.time;
      peakIndex = i;
    } else {
      maxDrawdown = Math.max(maxDrawdown, 1 - p.equity / peak);
      maxDurationMs = Math.max(maxDurationMs, stepMs === undefined ? p.time - peakTime : (i - peakIndex) * stepMs);
    }
  }
  return { maxDrawdown, maxDurationMs };
}

export function computeMetrics(input: MetricsInput): BacktestMetrics {
  const { equity, trades, initialBalance } = input;
  const finalEquity = equity.length ? equity[equity.length - 1]!.equity : initialBalance;
  const totalReturn = finalEquity / initialBalance - 1;
  // time covered by data (see above): equal to the clock span when no bar is missing
  const span = equity.length * input.barIntervalMs;
  const cagr = span > 0 && finalEquity > 0 ? Math.pow(finalEquity / initialBalance, YEAR_MS / span) - 1 : Number.NaN;

  const { sharpe, sortino, returnsBasis } = riskRatios(equity, input.barIntervalMs, input.returnsBasis);
  const { maxDrawdown, maxDurationMs } = drawdownStats(equity, input.barIntervalMs);

  const wins = trades.filter((t) => t.netPnl > 0);
  const grossWin = wins.reduce((s, t) => s + t.netPnl, 0);
  const grossLoss = -trades.filter((t) => t.netPnl < 0).reduce((s, t) => s + t.netPnl, 0);
  const tradeReturns = trades.map((t) => t.returnPct);
  const sdR = tradeReturns.length > 1 ? sampleStandardDeviation(tradeReturns) : Number.NaN;

  const holds = Object.values(input.prices).map((p) => p.last / p.first - 1);
  const bySymbol = groupBy(trades, (t) => t.symbol);
  const perSymbol: SymbolStats[] = Object.keys(input.prices).map((symbol) => ({
    ...groupStats(symbol, bySymbol.get(symbol) ?? []),
    buyAndHoldPct: (input.prices[symbol]!.last / input.prices[symbol]!.first - 1) * 100,
  }));
  const exitReasons = [...groupBy(trades, (t) => t.exitReason).entries()]
    .map(([reason, ts]) => groupStats(reason, ts))
    .sort((a, b) => b.trades - a.trades || a.key.localeCompare(b.key));

  return {
    bars: equity.length,
    initialCapital: initialBalance,
    returnsBasis,
    trades: trades.length,
    winRate: trades.length ? wins.length / trades.length : Number.NaN,
    netProfit: finalEquity - initialBalance,
    totalReturnPct: totalReturn * 100,
    cagrPct: cagr * 100,
    sharpe,
    sortino,
    calmar: maxDrawdown > 0 ? cagr / maxDrawdown : Number.NaN,
    profitFactor: grossLoss > 0 ? grossWin / grossLoss : grossWin > 0 ? Infinity : Number.NaN,
    expectancy: trades.length ? trades.reduce((s, t) => s + t.netPnl, 0) / trades.length : Number.NaN,
    sqn: sdR > 0 ? (Math.sqrt(trades.length) * mean(tradeReturns)) / sdR : Number.NaN,
    maxDrawdownPct: maxDrawdown * 100,
    maxDrawdownDurationMs: maxDurationMs,
    exposurePct: equity.length ? (input.exposedBars / equity.length) * 100 : 0,
    feesPaid: input.feesPaid,
    fundingPaid: input.fundingPaid,
    bestTradePct: trades.length ? Math.max(...tradeReturns) * 100 : Number.NaN,
    worstTradePct: trades.length ? Math.min(...tradeReturns) * 100 : Number.NaN,
    avgTradeDurationMs: trades.length ? mean(trades.map((t) => t.time - t.openedAt)) : Number.NaN,
    buyAndHoldPct: holds.length ? mean(holds) * 100 : Number.NaN,
    finalEquity,
    perSymbol,
    exitReasons,
    maxGrossLeverage: input.margin?.maxGrossLeverage ?? 0,
    maxMarginUsagePct: (input.margin?.maxMarginUsage ?? 0) * 100,
    maxMaintenanceMarginPct: (input.margin?.maxMaintenanceMargin ?? 0) * 100,
    liquidations: trades.filter((t) => t.exitReason === 'liquidation').length,
    byFunding: fundingStats(trades),
    ...streaks(trades),
    bySide: sideBreakdown(trades),
  };
}

/** toFixed without a sign on a value that rounds to zero (never "-0.00"). */
const fixed = (v: number, digits: number): string => v.toFixed(digits).replace(/^-(0\.?0*)$/, '$1');
const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? fixed(v, digits) : v > 0 ? '∞' : '—');
const pct = (v: number): string => (Number.isFinite(v) ? `${fixed(v, 2)} %` : '—');
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const h = ms / 3_600_000;
  return h >= 48 ? `${(h / 24).toFixed(1)} d` : h >= 1 ? `${h.toFixed(1)} h` : `${(ms / 60_000).toFixed(0)} min`;
}

/** The terminal report: a two-column metric table, then per-symbol and exit-reason tables. */
export function formatMetricsTable(m: BacktestMetrics): string {
  const rows: [string, string][] = [
    ['initial capital (USDT)', fmt(m.initialCapital)],
    ['bars (time steps)', String(m.bars)],
    ['trades', String(m.trades)],
    ['win rate', pct(m.winRate * 100)],
    ['net profit (USDT)', fmt(m.netProfit)],
    ['total return', pct(m.totalReturnPct)],
    ['CAGR', pct(m.cagrPct)],
    ['Sharpe', fmt(m.sharpe)],
    ['Sortino', fmt(m.sortino)],
    ['Calmar', fmt(m.calmar)],
    ['profit factor', fmt(m.profitFactor)],
    ['expectancy (USDT/trade)', fmt(m.expectancy)],
    ['SQN', fmt(m.sqn)],
    ['max drawdown', pct(m.maxDrawdownPct)],
    ['max drawdown duration', formatDuration(m.maxDrawdownDurationMs)],
    ['exposure time', pct(m.exposurePct)],
    ['fees paid (USDT)', fmt(m.feesPaid)],
    ['funding paid (USDT)', fmt(m.fundingPaid)],
    ['best trade', pct(m.bestTradePct)],
    ['worst trade', pct(m.worstTradePct)],
    ['avg trade duration', formatDuration(m.avgTradeDurationMs)],
    ['buy & hold (mean of symbols)', pct(m.buyAndHoldPct)],
    ['max gross leverage', `${fmt(m.maxGrossLeverage)}×`],
    ['max margin usage (initial / equity)', pct(m.maxMarginUsagePct)],
    ['max maintenance margin / equity', pct(m.maxMaintenanceMarginPct)],
    ['liquidations', String(m.liquidations)],
    ['max consecutive wins / losses', `${m.maxConsecutiveWins} / ${m.maxConsecutiveLosses}`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const table = (title: string, groups: readonly (GroupStats & { buyAndHoldPct?: number })[]) => {
    if (groups.length === 0) return [];
    const head = `  ${title.padEnd(14)} ${'trades'.padStart(7)} ${'win rate'.padStart(9)} ${'net PnL'.padStart(12)} ${'avg ret'.padStart(9)}`;
    const hold = groups[0]!.buyAndHoldPct !== undefined ? ` ${'buy&hold'.padStart(10)}` : '';
    return [
      '',
      head + hold,
      ...groups.map(
        (g) =>
          `  ${g.key.padEnd(14)} ${String(g.trades).padStart(7)} ${pct(g.winRate * 100).padStart(9)} ${fmt(g.netPnl).padStart(12)} ${pct(g.avgReturnPct).padStart(9)}` +
          (g.buyAndHoldPct !== undefined ? ` ${pct(g.buyAndHoldPct).padStart(10)}` : ''),
      ),
    ];
  };
  return [
    ...lines,
    ...table('symbol', m.perSymbol),
    ...table('exit reason', m.exitReasons),
    ...table(
      'side',
      m.bySide.map((g) => ({
        key: g.side.toLowerCase(),
        trades: g.trades,
        winRate: g.winRate,
        netPnl: g.netPnl,
        avgReturnPct: g.avgReturnPct,
      })),
    ),
    ...fundingTable(m.byFunding),
  ].join('\n');
}

/** Funded trades and bandit explorations side by side (the headline figures of each). */
function fundingTable(groups: readonly FundingStats[] | undefined): string[] {
  if (groups === undefined || groups.every((g) => g.trades === 0)) return [];
  const head = `  ${'funding'.padEnd(14)} ${'trades'.padStart(7)} ${'win rate'.padStart(9)} ${'net PnL'.padStart(12)} ${'PF'.padStart(6)} ${'med. notional'.padStart(14)}`;
  return [
    '',
    head,
    ...groups.map(
      (g) =>
        `  ${g.key.padEnd(14)} ${String(g.trades).padStart(7)} ${pct(g.winRate * 100).padStart(9)} ${fmt(g.netPnl).padStart(12)} ${fmt(g.profitFactor).padStart(6)} ${fmt(g.medianNotional).padStart(14)}`,
    ),
  ];
}
