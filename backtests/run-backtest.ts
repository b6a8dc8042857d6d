import { tap, type Observable, type OperatorFunction } from 'rxjs';
import type {
  Bar,
  BarColumns,
  Decision,
  FundingRate,
  PipelineEvent,
  PortfolioSnapshot,
  RiskStateChanged,
  SymbolFilters,
  TradeClosed,
} from '../pipelines/model/index.ts';
import { intervalToMs, sliceRows } from '../pipelines/model/index.ts';
import { buildPipeline } from '../pipelines/build-pipeline.ts';
import type { LoadedStrategy } from '../strategies/kit/contract.ts';
import { strategyBook, type StrategyStats } from './report/strategy-stats.ts';
import type { Settings } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { defineOperator } from '../pipelines/operator-kit.ts';
import { Ledger } from '../operators/portfolio/portfolio.kernel.ts';
import { featureWarmUpBars } from '../operators/features/features.ts';
import { mergeBars } from './data/index.ts';
import { checkGaps, describeGap, findGaps, type DataGap } from './data/gaps.ts';
import { backtestFilters } from '../pipelines/instruments.ts';
import { simulatedVenue } from './simulated-venue.ts';
import { withEndOfData, type SeriesEnd } from './end-of-data.ts';
import { fundingCoverage, fundingSchedule } from './funding.kernel.ts';
import { computeMetrics, emptyMarginPeaks, trackMarginPeaks, type BacktestMetrics } from './report/metrics.ts';

export interface BacktestOptions {
  settings: Settings;
  series: readonly BarColumns[];
  /**
   * openTime window: from inclusive, to exclusive. With `from`, the bars just before it warm the
   * indicators up (as many as they need, when the data has them), so trading can start at the
   * window's first bar; equity and metrics start at `from`.
   */
  from?: number;
  to?: number;
  /** close positions still open at the end at the last close, as fills (exit reason end-of-data) */
  closeAtEnd?: boolean;
  /** run across holes longer than MAX_GAP_BARS (reported; indicators warm up again after each) */
  allowGaps?: boolean;
  /** a signal the agent tape has no reply for: an error (default) or, explicitly, go on without it */
  tapeMiss?: 'error' | 'skip';
  /** exchange filters for symbols the bundled exchangeInfo lacks (a user's --filters file) */
  filters?: ReadonlyMap<string, SymbolFilters>;
  /** fewer bars than the warm-up (no trade is possible): an error (the CLI) or a warning (default) */
  shortData?: 'error' | 'warn';
  fundingRates?: readonly FundingRate[];
  /** the strategies to run (files preloaded); none = STRATEGIES resolved from the settings */
  strategies?: readonly LoadedStrategy[];
  agents?: OperatorFunction<PipelineEvent, PipelineEvent>;
  /** called every `progressEvery` bars with (barsDone, barsTotal) */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** keep every pipeline event (tests, small runs): memory grows with the run */
  keepEvents?: boolean;
  /**
   * keep every Decision in `result.decisions` (implied by keepEvents). Off by default: a year of
   * 5-minute bars makes ~300k decisions, and holding them (with their features and bars) costs
   * the garbage collector ~40 % of a backtest's time (measured).
   */
  keepDecisions?: boolean;
  /**
   * Watches the run as it happens (the look-ahead check): `sourceBar` sees each bar as the data
   * source emits it, before the venue does, `sourceEnd` the moment the data is exhausted, and
   * `event` every pipeline event. Together they tell which events each bar caused.
   */
  observer?: RunObserver;
}

/** A position still open when the data ends, marked at its symbol's last close (nothing paid to exit). */
export interface OpenTrade {
  readonly kind: 'open-trade';
  readonly symbol: string;
  readonly side: 'LONG' | 'SHORT';
  readonly quantity: number;
  readonly entryPrice: number;
  /** the symbol's last close */
  readonly markPrice: number;
  readonly openedAt: number;
  /** close time of the symbol's last bar */
  readonly markedAt: number;
  /** (mark − entry) × signed quantity */
  readonly unrealizedPnl: number;
  /** realised on partial exits of this trade, fees and funding paid so far */
  readonly realizedPnl: number;
  readonly fees: number;
  readonly funding: number;
  /** realised + unrealised − fees − funding */
  readonly netPnl: number;
  /** netPnl / entry notional (largest size held) */
  readonly returnPct: number;
}

export interface RunObserver {
  sourceBar?(bar: Bar): void;
  sourceEnd?(): void;
  event?(e: PipelineEvent): void;
}

/**
 * One row per time step: the books at the close of that step's bars and nothing later. `time` is
 * the bars' close time (openTime + interval), the instant those books are known — the same `time`
 * as the step's PortfolioSnapshot. With several symbols the row is written once every symbol's bar
 * of the step is in (the snapshot after the last one).
 */
export interface EquityPoint {
  time: number;
  equity: number;
}

export interface BacktestResult {
  symbols: string[];
  intervalMs: number;
  start: number;
  end: number;
  bars: number;
  metrics: BacktestMetrics;
  final: PortfolioSnapshot | null;
  trades: TradeClosed[];
  equity: EquityPoint[];
  /** every decision when keepDecisions/keepEvents, else empty (see counts.decisions) */
  decisions: Decision[];
  denials: Record<string, number>;
  riskStates: RiskStateChanged[];
  counts: { decisions: number; orders: number; fills: number; rejections: number; fundingEvents: number };
  events?: PipelineEvent[];
  /** positions open at the end (empty with closeAtEnd: they are closed trades then) */
  openTrades: OpenTrade[];
  /** every gap longer than one interval in the bars run (warm-up included) */
  gaps: DataGap[];
  /** things the numbers depend on that the user should know (also printed by the CLI) */
  warnings: string[];
  /** bars before `from` fed to warm the indicators up (all symbols) */
  warmUpBars: number;
  /** per strategy: trades, net PnL, win rate and the capital share of each entry over time */
  strategies: StrategyStats[];
}

/** Restricts columns to [from, to) without copying (subarray views). */
export function sliceSeries(series: readonly BarColumns[], from?: number, to?: number): BarColumns[] {
  if (from === undefined && to === undefined) return [...series];
  return series.map((c) => {
    let lo = 0;
    let hi = c.length;
    if (from !== undefined) while (lo < hi && c.openTime[lo]! < from) lo++;
    if (to !== undefined) while (hi > lo && c.openTime[hi - 1]! >= to) hi--;
    return sliceRows(c, lo, hi);
  });
}

function observed(bars: Observable<Bar>, observer: RunObserver | undefined): Observable<Bar> {
  if (observer?.sourceBar === undefined && observer?.sourceEnd === undefined) return bars;
  return bars.pipe(tap({ next: (b) => observer.sourceBar?.(b), complete: () => observer.sourceEnd?.() }));
}

/** The run's bars: the window plus its warm-up, checked against the settings, with warnings. */
function prepareSeries(opts: BacktestOptions, warnings: string[]) {
  const { settings } = opts;
  const intervalMs = intervalToMs(settings.BAR_INTERVAL);
  const warmUp = featureWarmUpBars(settings);
  const windowSeries = sliceSeries(opts.series, opts.from, opts.to);
  // the window plus up to warm-up − 1 bars before it: the window's first bar is then the first warm one
  const series = withWarmUp(opts.series, windowSeries, warmUp - 1).filter((c) => c.length > 0);
  if (series.length === 0 || windowSeries.every((c) => c.length === 0)) {
    throw new SapphireError('DATA_NOT_FOUND', 'no bars in the requested window');
  }
  checkWarmUp(series, windowSeries, warmUp, settings, opts, warnings);
  for (const c of series) {
    if (c.intervalMs !== intervalMs) {
      throw new SapphireError(
        'SETTINGS_INVALID',
        `BAR_INTERVAL=${settings.BAR_INTERVAL} but ${c.symbol} data has ${c.intervalMs / 60_000}m bars`,
      );
    }
  }
  const gaps = series.flatMap((c) => findGaps(c));
  for (const hole of checkGaps(gaps, intervalMs, settings.MAX_GAP_BARS, opts.allowGaps === true)) {
    warnings.push(`${describeGap(hole)}: allowed (--allow-gaps); indicators warm up again after it`);
  }
  if (opts.fundingRates !== undefined) warnings.push(...fundingWarnings(opts.fundingRates, series));
  return {
    intervalMs,
    series,
    windowSeries,
    gaps,
    warmUpBars: series.reduce((n, c, i) => n + c.length - windowSeries[i]!.length, 0),
    totalBars: series.reduce((n, c) => n + c.length, 0),
    windowBars: windowSeries.reduce((n, c) => n + c.length, 0),
  };
}

/** What a run's events add up to, gathered while it runs (one switch per event, no allocation). */
class RunTally {
  readonly trades: TradeClosed[] = [];
  // the curve as two number arrays while running (unboxed doubles: nothing for the GC to trace),
  // made into points once at the end
  readonly stepTimes: number[] = [];
  readonly stepEquities: number[] = [];
  readonly decisions: Decision[] = [];
  readonly denials = denialCounter();
  readonly riskStates: RiskStateChanged[] = [];
  readonly counts = { decisions: 0, orders: 0, fills: 0, rejections: 0, fundingEvents: 0 };
  readonly events: PipelineEvent[] | undefined;
  readonly marginPeaks = emptyMarginPeaks();
  readonly perStrategy = strategyBook();
  /** the books again, from the same fills and funding, to report what is still open at the end */
  readonly books: Ledger;
  last: PortfolioSnapshot | null = null;
  exposedBars = 0;
  barsDone = 0;
  private readonly keepDecisions: boolean;
  private readonly observe: ((e: PipelineEvent) => void) | undefined;
  private readonly progressEvery: number;
  private currentTime = Number.NaN;
  private currentEquity: number;
  // the books as of the latest bar in: the portfolio snapshots a bar BEFORE emitting it, so by the
  // time a bar of the next step arrives, currentEquity already holds that next bar's books
  private stepEquity: number;
  private stepExposed = false;

  constructor(
    private readonly opts: BacktestOptions,
    private readonly totalBars: number,
  ) {
    const balance = opts.settings.INITIAL_BALANCE;
    this.books = new Ledger(balance);
    this.currentEquity = balance;
    this.stepEquity = balance;
    this.keepDecisions = opts.keepDecisions === true || opts.keepEvents === true;
    this.events = opts.keepEvents ? [] : undefined;
    this.observe = opts.observer?.event;
    this.progressEvery = opts.progressEvery ?? 50_000;
  }

  /** the books at the close of the time step that just ended become one equity row */
  closeTimeStep(): void {
    if (Number.isNaN(this.currentTime)) return;
    this.stepTimes.push(this.currentTime);
    this.stepEquities.push(this.stepEquity);
    if (this.stepExposed) this.exposedBars++;
  }

  add(e: PipelineEvent): void {
    this.events?.push(e);
    this.perStrategy.observe(e);
    this.observe?.(e);
    switch (e.kind) {
      case 'bar':
        if (e.time !== this.currentTime) {
          this.closeTimeStep();
          this.currentTime = e.time;
        }
        this.stepEquity = this.currentEquity;
        this.stepExposed = this.last !== null && this.last.positions.length > 0;
        this.barsDone++;
        if (this.opts.onProgress && this.barsDone % this.progressEvery === 0)
          this.opts.onProgress(this.barsDone, this.totalBars);
        return;
      case 'portfolio':
        this.last = e;
        this.currentEquity = e.equity;
        trackMarginPeaks(this.marginPeaks, e);
        return;
      case 'trade-closed':
        this.trades.push(e);
        return;
      case 'funding':
        this.counts.fundingEvents++;
        this.books.applyFunding(e.symbol, e.amount);
        return;
      case 'decision':
        this.counts.decisions++;
        if (this.keepDecisions) this.decisions.push(e);
        return;
      case 'denied':
        this.denials.add(e.stage, e.rule);
        return;
      case 'risk-state':
        this.riskStates.push(e);
        return;
      case 'order':
        this.counts.orders++;
        return;
      case 'fill':
        this.counts.fills++;
        this.books.applyFill(e.symbol, e.side, e.quantity, e.price, e.fee, e.time, e.reason);
        return;
      case 'order-rejected':
        this.counts.rejections++;
        return;
      default:
        return;
    }
  }
}

/**
 * Runs the pipeline over historical bars with the simulated venue. Synchronous and
 * deterministic: the same inputs and settings give the same result, byte for byte.
 */
export function runBacktest(opts: BacktestOptions): BacktestResult {
  const { settings } = opts;
  const warnings: string[] = [];
  const { intervalMs, series, windowSeries, gaps, warmUpBars, totalBars, windowBars } = prepareSeries(opts, warnings);
  const symbols = series.map((c) => c.symbol);
  const filters = backtestFilters(symbols, opts.filters);
  const funding = fundingSchedule(opts.fundingRates ?? [], settings.FUNDING_RATE);
  const ends = seriesEnds(series, opts.closeAtEnd === true, warnings);
  const simulated = simulatedVenue(settings, { filters, fundingRates: opts.fundingRates ?? [], funding });
  // the settlement stage costs a hop per bar: only when some position may need settling
  const venue = [...ends.values()].some((e) => e.settle) ? withEndOfData(simulated, ends, settings) : simulated;
  const tapeMisses = { count: 0 };
  const built = buildPipeline(
    settings,
    { market: { bars: () => observed(mergeBars(series), opts.observer) }, execution: venue, agents: opts.agents },
    { filters, strategies: opts.strategies, fundingRates: opts.fundingRates },
  );
  // tape misses can only come from an agent stage
  const pipeline = opts.agents ? built.pipe(tapeMissGuard(opts.tapeMiss ?? 'error', tapeMisses)) : built;

  const tally = new RunTally(opts, totalBars);
  let failure: unknown = null;
  const subscription = pipeline.subscribe({
    next: (e) => tally.add(e),
    error(error) {
      failure = error;
    },
  });
  subscription.unsubscribe();
  if (failure !== null) throw failure;
  tally.closeTimeStep();
  opts.onProgress?.(tally.barsDone, totalBars);
  if (tapeMisses.count > 0) {
    warnings.push(
      `${tapeMisses.count} signals had no reply on the agent tape: they went on without it (--tape-miss skip)`,
    );
  }

  // metrics and the equity curve cover the window; warm-up bars come before it
  const windowStart = Math.min(...windowSeries.filter((c) => c.length > 0).map((c) => c.openTime[0]!));
  const equity: EquityPoint[] = tally.stepTimes.map((time, i) => ({ time, equity: tally.stepEquities[i]! }));
  const windowEquity = opts.from === undefined ? equity : equity.filter((p) => p.time > windowStart);
  const prices: Record<string, { first: number; last: number }> = {};
  for (const c of windowSeries)
    if (c.length > 0) prices[c.symbol] = { first: c.open[0]!, last: c.close[c.length - 1]! };
  const final = tally.last;
  const { trades } = tally;
  const metrics = computeMetrics({
    equity: windowEquity,
    trades,
    initialBalance: settings.INITIAL_BALANCE,
    feesPaid: final?.feesPaid ?? 0,
    fundingPaid: final?.fundingPaid ?? 0,
    barIntervalMs: intervalMs,
    exposedBars: tally.exposedBars,
    prices,
    margin: tally.marginPeaks,
  });
  return {
    symbols,
    intervalMs,
    start: windowStart,
    end: Math.max(...series.map((c) => c.openTime[c.length - 1]! + intervalMs)),
    bars: windowBars,
    metrics,
    final,
    trades,
    equity: windowEquity,
    decisions: tally.decisions,
    denials: tally.denials.result(),
    riskStates: tally.riskStates,
    counts: tally.counts,
    events: tally.events,
    openTrades: openTradesAtEnd(tally.books, series, intervalMs),
    gaps,
    warnings,
    warmUpBars,
    strategies: tally.perStrategy.result(),
  };
}

interface DenialCount {
  readonly key: string;
  count: number;
}

/**
 * Denials counted by `stage:rule`, keyed in the order each first occurred. A run has ~300k
 * denials: looking up stage then rule finds the count without building a key string for each.
 */
function denialCounter(): { add(stage: string, rule: string): void; result(): Record<string, number> } {
  const byStage = new Map<string, Map<string, DenialCount>>();
  const inOrder: DenialCount[] = [];
  return {
    add(stage, rule) {
      let byRule = byStage.get(stage);
      if (byRule === undefined) byStage.set(stage, (byRule = new Map()));
      let entry = byRule.get(rule);
      if (entry === undefined) {
        byRule.set(rule, (entry = { key: `${stage}:${rule}`, count: 0 }));
        inOrder.push(entry);
      }
      entry.count++;
    },
    result() {
      const out: Record<string, number> = {};
      for (const entry of inOrder) out[entry.key] = (out[entry.key] ?? 0) + entry.count;
      return out;
    },
  };
}

/** Each window series preceded by up to `before` bars of the full series (views, no copy). */
function withWarmUp(full: readonly BarColumns[], window: readonly BarColumns[], before: number): BarColumns[] {
  return full.map((c, i) => {
    const w = window[i]!;
    if (w.length === 0 || before <= 0) return w;
    // the window is a view of c: find where it starts in c
    let lo = 0;
    while (lo < c.length && c.openTime[lo]! < w.openTime[0]!) lo++;
    const from = Math.max(0, lo - before);
    if (from === lo) return w;
    const hi = lo + w.length;
    return sliceRows(c, from, hi);
  });
}

const iso = (t: number): string => new Date(t).toISOString();

/**
 * A series shorter than the warm-up can never trade: an error (shortData 'error') or a warning.
 * With `from`, fewer bars before it than the warm-up needs delays the first trade: a warning.
 */
function checkWarmUp(
  series: readonly BarColumns[],
  window: readonly BarColumns[],
  warmUp: number,
  s: Settings,
  opts: BacktestOptions,
  warnings: string[],
): void {
  const why =
    `the indicators need ${warmUp} bars of warm-up (the largest of ATR_PERIOD+1=${s.ATR_PERIOD + 1}, ` +
    `MOMENTUM_LOOKBACK_BARS+1=${s.MOMENTUM_LOOKBACK_BARS + 1}, one day of bars+1, VOLATILITY_WINDOW_BARS+1=${s.VOLATILITY_WINDOW_BARS + 1})`;
  for (let i = 0; i < series.length; i++) {
    const c = series[i]!;
    const w = window.find((x) => x.symbol === c.symbol)!;
    if (c.length < warmUp) {
      const message = `${c.symbol} has ${c.length} bars${opts.from !== undefined ? ' (warm-up bars before --from included)' : ''} but ${why}: it cannot trade`;
      if (opts.shortData === 'error') throw new SapphireError('DATA_NOT_FOUND', message);
      warnings.push(message);
      continue;
    }
    const before = c.length - w.length;
    if (opts.from !== undefined && before < warmUp - 1) {
      const firstTrade = w.openTime[warmUp - 1 - before]!;
      warnings.push(
        `${c.symbol} has ${before} bars before ${iso(opts.from)}, ${why}: its first decision is at the close of the bar opening ${iso(firstTrade)}`,
      );
    }
  }
}

/** Where each series ends, and which positions the venue settles there (see end-of-data.ts). */
function seriesEnds(series: readonly BarColumns[], closeAtEnd: boolean, warnings: string[]): Map<string, SeriesEnd> {
  const lastOf = (c: BarColumns): number => c.openTime[c.length - 1]!;
  const latest = Math.max(...series.map(lastOf));
  const ends = new Map<string, SeriesEnd>();
  for (const c of series) {
    const early = lastOf(c) < latest;
    if (early) {
      warnings.push(
        `${c.symbol} data ends at ${iso(lastOf(c))}, before the other symbols (${iso(latest)}): ` +
          'a position still open on it is closed at its last close (end-of-data)',
      );
    }
    ends.set(c.symbol, { lastOpenTime: lastOf(c), settle: closeAtEnd || early });
  }
  return ends;
}

function fundingWarnings(rates: readonly FundingRate[], series: readonly BarColumns[]): string[] {
  const coverage = fundingCoverage(
    rates,
    series.map((c) => ({ symbol: c.symbol, firstOpen: c.openTime[0]!, lastOpen: c.openTime[c.length - 1]! })),
  );
  const out: string[] = [];
  const because = {
    'no-series': 'no such symbol in the data',
    'before-data': 'before its first bar',
    'after-data': 'after its last bar',
  };
  for (const u of coverage.unmatched) {
    out.push(`funding: ${u.rows} ${u.symbol} rows match no bar (${because[u.reason]}) and were not used`);
  }
  for (const p of coverage.partial) {
    out.push(
      `funding: the ${p.symbol} history covers ${iso(p.from)} → ${iso(p.to)}; outside it the constant FUNDING_RATE applies every 8 h`,
    );
  }
  if (coverage.constantSymbols.length > 0) {
    out.push(
      `funding: the history has no rows for ${coverage.constantSymbols.join(', ')}: they pay the constant FUNDING_RATE every 8 h`,
    );
  }
  return out;
}

/**
 * A replayed agent with no tape entry for a signal would let the decision go on without it: a
 * different strategy from the one recorded. That stops the run unless skipping is asked for.
 */
function tapeMissGuard(
  mode: 'error' | 'skip',
  misses: { count: number },
): OperatorFunction<PipelineEvent, PipelineEvent> {
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => ({
    next(e) {
      if (e.kind === 'agent-fault' && e.fault === 'AGENT_TAPE_MISS') {
        misses.count++;
        if (mode === 'error') {
          throw new SapphireError(
            'AGENT_TAPE_MISS',
            `agent ${e.agent} has no tape reply for ${e.symbol} at the bar closing ${iso(e.time)} (${e.detail}); ` +
              'without it the backtest runs a different strategy. Record the tape over this window, or pass --tape-miss skip',
          );
        }
      }
      emit(e);
    },
  }));
}

function openTradesAtEnd(books: Ledger, series: readonly BarColumns[], intervalMs: number): OpenTrade[] {
  const out: OpenTrade[] = [];
  for (const c of series) {
    const p = books.positions.get(c.symbol);
    if (p === undefined || p.qty === 0) continue;
    const i = c.length - 1;
    const mark = c.close[i]!;
    const unrealizedPnl = (mark - p.entry) * p.qty;
    const netPnl = p.realized + unrealizedPnl - p.fees - p.funding;
    out.push({
      kind: 'open-trade',
      symbol: c.symbol,
      side: p.qty > 0 ? 'LONG' : 'SHORT',
      quantity: Math.abs(p.qty),
      entryPrice: p.entry,
      markPrice: mark,
      openedAt: p.openedAt,
      markedAt: c.openTime[i]! + intervalMs,
      unrealizedPnl,
      realizedPnl: p.realized,
      fees: p.fees,
      funding: p.funding,
      netPnl,
      returnPct: netPnl / (p.entry * p.peakQty),
    });
  }
  return out;
}
