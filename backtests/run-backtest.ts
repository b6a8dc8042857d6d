import { tap, type Observable, type OperatorFunction } from 'rxjs';
import type {
  Bar,
  BarColumns,
  Decision,
  FundingRate,
  PipelineEvent,
  PortfolioSnapshot,
  RiskStateChanged,
  TradeClosed,
} from '../pipelines/model/index.ts';
import { intervalToMs } from '../pipelines/model/index.ts';
import { buildPipeline } from '../pipelines/build-pipeline.ts';
import type { Settings } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { mergeBars } from './data/index.ts';
import { filtersFor } from './instruments.ts';
import { simulatedVenue } from './simulated-venue.ts';
import { computeMetrics, emptyMarginPeaks, trackMarginPeaks, type BacktestMetrics } from './report/metrics.ts';

export interface BacktestOptions {
  settings: Settings;
  series: readonly BarColumns[];
  /** openTime window: from inclusive, to exclusive */
  from?: number;
  to?: number;
  fundingRates?: readonly FundingRate[];
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
}

/** Restricts columns to [from, to) without copying (subarray views). */
export function sliceSeries(series: readonly BarColumns[], from?: number, to?: number): BarColumns[] {
  if (from === undefined && to === undefined) return [...series];
  return series.map((c) => {
    let lo = 0;
    let hi = c.length;
    if (from !== undefined) while (lo < hi && c.openTime[lo]! < from) lo++;
    if (to !== undefined) while (hi > lo && c.openTime[hi - 1]! >= to) hi--;
    return {
      symbol: c.symbol,
      intervalMs: c.intervalMs,
      openTime: c.openTime.subarray(lo, hi),
      open: c.open.subarray(lo, hi),
      high: c.high.subarray(lo, hi),
      low: c.low.subarray(lo, hi),
      close: c.close.subarray(lo, hi),
      volume: c.volume.subarray(lo, hi),
      length: hi - lo,
    };
  });
}

function observed(bars: Observable<Bar>, observer: RunObserver | undefined): Observable<Bar> {
  if (observer?.sourceBar === undefined && observer?.sourceEnd === undefined) return bars;
  return bars.pipe(tap({ next: (b) => observer.sourceBar?.(b), complete: () => observer.sourceEnd?.() }));
}

/**
 * Runs the pipeline over historical bars with the simulated venue. Synchronous and
 * deterministic: the same inputs and settings give the same result, byte for byte.
 */
export function runBacktest(opts: BacktestOptions): BacktestResult {
  const { settings } = opts;
  const intervalMs = intervalToMs(settings.BAR_INTERVAL);
  const series = sliceSeries(opts.series, opts.from, opts.to).filter((c) => c.length > 0);
  if (series.length === 0) throw new SapphireError('DATA_NOT_FOUND', 'no bars in the requested window');
  for (const c of series) {
    if (c.intervalMs !== intervalMs) {
      throw new SapphireError(
        'SETTINGS_INVALID',
        `BAR_INTERVAL=${settings.BAR_INTERVAL} but ${c.symbol} data has ${c.intervalMs / 60_000}m bars`,
      );
    }
  }
  const symbols = series.map((c) => c.symbol);
  const filters = filtersFor(symbols);
  const totalBars = series.reduce((n, c) => n + c.length, 0);

  const venue = simulatedVenue(settings, { filters, fundingRates: opts.fundingRates ?? [] });
  const pipeline = buildPipeline(
    settings,
    { market: { bars: () => observed(mergeBars(series), opts.observer) }, execution: venue, agents: opts.agents },
    { filters },
  );

  const trades: TradeClosed[] = [];
  const equity: EquityPoint[] = [];
  const decisions: Decision[] = [];
  const denials: Record<string, number> = {};
  const riskStates: RiskStateChanged[] = [];
  const counts = { decisions: 0, orders: 0, fills: 0, rejections: 0, fundingEvents: 0 };
  const keepDecisions = opts.keepDecisions === true || opts.keepEvents === true;
  const events: PipelineEvent[] | undefined = opts.keepEvents ? [] : undefined;
  let last: PortfolioSnapshot | null = null;
  const marginPeaks = emptyMarginPeaks();
  let currentTime = Number.NaN;
  let currentEquity = settings.INITIAL_BALANCE;
  // the books as of the latest bar in: the portfolio snapshots a bar BEFORE emitting it, so by the
  // time a bar of the next step arrives, currentEquity already holds that next bar's books
  let stepEquity = settings.INITIAL_BALANCE;
  let stepExposed = false;
  let exposedBars = 0;
  let barsDone = 0;
  const progressEvery = opts.progressEvery ?? 50_000;
  let failure: unknown = null;

  const closeTimeStep = (): void => {
    if (Number.isNaN(currentTime)) return;
    equity.push({ time: currentTime, equity: stepEquity });
    if (stepExposed) exposedBars++;
  };

  const observe = opts.observer?.event;
  const subscription = pipeline.subscribe({
    next(e) {
      events?.push(e);
      observe?.(e);
      switch (e.kind) {
        case 'bar':
          if (e.time !== currentTime) {
            closeTimeStep();
            currentTime = e.time;
          }
          stepEquity = currentEquity;
          stepExposed = last !== null && last.positions.length > 0;
          barsDone++;
          if (opts.onProgress && barsDone % progressEvery === 0) opts.onProgress(barsDone, totalBars);
          return;
        case 'portfolio':
          last = e;
          currentEquity = e.equity;
          trackMarginPeaks(marginPeaks, e);
          return;
        case 'trade-closed':
          trades.push(e);
          return;
        case 'decision':
          counts.decisions++;
          if (keepDecisions) decisions.push(e);
          return;
        case 'denied': {
          const key = `${e.stage}:${e.rule}`;
          denials[key] = (denials[key] ?? 0) + 1;
          return;
        }
        case 'risk-state':
          riskStates.push(e);
          return;
        case 'order':
          counts.orders++;
          return;
        case 'fill':
          counts.fills++;
          return;
        case 'order-rejected':
          counts.rejections++;
          return;
        case 'funding':
          counts.fundingEvents++;
          return;
        default:
          return;
      }
    },
    error(error) {
      failure = error;
    },
  });
  subscription.unsubscribe();
  if (failure !== null) throw failure;
  closeTimeStep();
  opts.onProgress?.(barsDone, totalBars);

  const prices: Record<string, { first: number; last: number }> = {};
  for (const c of series) prices[c.symbol] = { first: c.open[0]!, last: c.close[c.length - 1]! };
  const start = Math.min(...series.map((c) => c.openTime[0]!));
  const end = Math.max(...series.map((c) => c.openTime[c.length - 1]! + intervalMs));
  const final = last as PortfolioSnapshot | null;
  const metrics = computeMetrics({
    equity,
    trades,
    initialBalance: settings.INITIAL_BALANCE,
    feesPaid: final?.feesPaid ?? 0,
    fundingPaid: final?.fundingPaid ?? 0,
    barIntervalMs: intervalMs,
    exposedBars,
    prices,
    margin: marginPeaks,
  });
  return {
    symbols,
    intervalMs,
    start,
    end,
    bars: totalBars,
    metrics,
    final,
    trades,
    equity,
    decisions,
    denials,
    riskStates,
    counts,
    events,
  };
}
