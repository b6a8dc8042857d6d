import type { OperatorFunction } from 'rxjs';
import type { Bar, BarColumns, FundingRate, PipelineEvent } from '../pipelines/model/index.ts';
import type { Settings } from '../pipelines/settings.ts';
import { createRng } from '../pipelines/rng.ts';
import { runBacktest, sliceSeries, type EquityPoint } from './run-backtest.ts';

/**
 * The look-ahead check: backtest the data whole, then truncated at each cut, and demand that
 * everything computed from the bars before the cut is the same. A stage that peeks at later bars
 * decides differently when those bars are missing.
 *
 * What must be identical, exactly (bit for bit, same order), at a cut C (a bar open time; the
 * truncated data ends with the bars opening before C, closing at C):
 *
 * 1. Every event the bars opening before C caused: each bar the data source emits sets off a
 *    synchronous cascade (venue fills and funding for it, the portfolio snapshot, the bar, features,
 *    signals, decisions, denials, intents, orders, stops, trades …). The full run's cascades of the
 *    bars before C must equal the truncated run's — compared generically, every kind and field, so
 *    new event kinds are covered without touching this file. Not compared: the full run's cascades
 *    of later bars (an order decided at the cut bar fills at the open of the bar at C: legitimately
 *    absent from the truncated run), and what the truncated run emits once its data has ended
 *    (end-of-data handling, by definition about the end).
 * 2. Every equity row stamped at or before C.
 * 3. No late stamps, checked at every bar of the full run: an event emitted after a bar's data
 *    has arrived may not be stamped at or before that bar's open, i.e. claim a time before data it
 *    was computed from. A stage that holds a signal until the next bar (or the end of the data)
 *    and releases it with its original time is caught here, even when its outcome happens to match
 *    at the cuts. Exceptions (documented): the venue's events for a bar, emitted before the bar
 *    itself (fills at its open, funding since the previous bar) and whatever reacts to them, and
 *    events whose reason is `end-of-data`.
 */

export type AgentStage = OperatorFunction<PipelineEvent, PipelineEvent>;

export interface LookaheadOptions {
  settings: Settings;
  series: readonly BarColumns[];
  /** cut times (bar open times); see seededCuts */
  cuts: readonly number[];
  agents?: AgentStage;
  /** builds the agent stage from the data a run gets (the truncated data in a truncated run) */
  agentsFor?: (series: readonly BarColumns[]) => AgentStage | undefined;
  fundingRates?: readonly FundingRate[];
  /** stop at the first cut that differs (default true): a failing check costs one cut, not all */
  stopAtFirst?: boolean;
}

export interface Difference {
  /** event: an event of the cascades before the cut; equity: an equity row; late: a late stamp */
  where: 'event' | 'equity' | 'late';
  /** the event kind (or `equity`) */
  kind: string;
  symbol: string;
  /** the event's time stamp */
  time: number;
  /** the first differing field, a path such as `features.close` or `opinions[0].confidence` */
  field: string;
  full: string;
  truncated: string;
  /** a sentence saying what differs */
  detail: string;
}

export interface CutOutcome {
  cut: number;
  /** events compared (the full run's cascades of the bars before the cut) */
  events: number;
  /** equity rows compared */
  rows: number;
  difference: Difference | null;
  ms: number;
}

export interface LookaheadReport {
  outcomes: CutOutcome[];
  /** a late stamp in the full run (point 3), or null */
  late: Difference | null;
  passed: boolean;
  fullMs: number;
  totalMs: number;
}

/** Events with these reasons are about the end of the data: exempt from the late-stamp rule. */
const END_OF_DATA = 'end-of-data';

interface Recorded {
  events: PipelineEvent[];
  /** per source bar, in emission order: its open time, close time, symbol and first event index */
  openTime: number[];
  closeTime: number[];
  symbol: string[];
  start: number[];
  /** event index at which the data was exhausted */
  end: number;
  equity: EquityPoint[];
}

function runFull(o: LookaheadOptions): Recorded {
  const rec: Recorded = { events: [], openTime: [], closeTime: [], symbol: [], start: [], end: -1, equity: [] };
  const result = runBacktest({
    settings: o.settings,
    series: o.series,
    fundingRates: o.fundingRates,
    agents: o.agentsFor ? o.agentsFor(o.series) : o.agents,
    observer: {
      sourceBar(b: Bar) {
        rec.openTime.push(b.openTime);
        rec.closeTime.push(b.time);
        rec.symbol.push(b.symbol);
        rec.start.push(rec.events.length);
      },
      sourceEnd() {
        rec.end = rec.events.length;
      },
      event(e) {
        rec.events.push(e);
      },
    },
  });
  rec.equity = result.equity;
  return rec;
}

const hasReason = (e: PipelineEvent, reason: string): boolean =>
  ('reason' in e && e.reason === reason) || ('exitReason' in e && e.exitReason === reason);

/** Point 3 over the whole full run: the first event stamped at or before the open of a bar it followed. */
function firstLateStamp(rec: Recorded): Difference | null {
  const { events } = rec;
  const late = (e: PipelineEvent, after: string, open: number): Difference => ({
    where: 'late',
    kind: e.kind,
    symbol: symbolOf(e),
    time: e.time,
    field: 'time',
    full: iso(e.time),
    truncated: 'absent',
    detail:
      `${e.kind} ${symbolOf(e)} stamped ${iso(e.time)} was emitted only after ${after}: it depends on data ` +
      `after its stamp (a truncated run ending at ${iso(open)} cannot have it)`,
  });
  for (let k = 0; k < rec.start.length; k++) {
    const from = rec.start[k]!;
    const to = k + 1 < rec.start.length ? rec.start[k + 1]! : rec.end;
    const open = rec.openTime[k]!;
    // the venue's events for this bar come before the bar itself: skip up to it
    let i = from;
    while (
      i < to &&
      !(events[i]!.kind === 'bar' && events[i]!.time === rec.closeTime[k] && symbolOf(events[i]!) === rec.symbol[k])
    )
      i++;
    // a cascade without its bar: some stage held the bar back, so nothing in it is the venue's
    if (i === to) i = from - 1;
    for (let j = i + 1; j < to; j++) {
      const e = events[j]!;
      if (e.time <= open && !hasReason(e, END_OF_DATA))
        return late(e, `the ${rec.symbol[k]} bar opening at ${iso(open)} arrived`, open);
    }
  }
  const lastOpen = rec.openTime.at(-1) ?? -Infinity;
  for (let j = rec.end; j < events.length; j++) {
    const e = events[j]!;
    if (e.time <= lastOpen && !hasReason(e, END_OF_DATA)) return late(e, 'the data ended', lastOpen);
  }
  return null;
}

/** Index of the first event caused by a bar opening at or after `cut` (or the data's end). */
function prefixEnd(rec: Recorded, cut: number): number {
  for (let k = 0; k < rec.openTime.length; k++) if (rec.openTime[k]! >= cut) return rec.start[k]!;
  return rec.end;
}

function checkCut(o: LookaheadOptions, rec: Recorded, cut: number): CutOutcome {
  const t0 = performance.now();
  const expectedCount = prefixEnd(rec, cut);
  let i = 0;
  let ended = false;
  let difference: Difference | null = null;
  const truncated = sliceSeries(o.series, undefined, cut).filter((c) => c.length > 0);
  if (truncated.length === 0) return { cut, events: 0, rows: 0, difference: null, ms: 0 };
  const result = runBacktest({
    settings: o.settings,
    series: truncated,
    fundingRates: o.fundingRates,
    agents: o.agentsFor ? o.agentsFor(truncated) : o.agents,
    observer: {
      sourceEnd() {
        ended = true;
        if (difference === null && i < expectedCount) difference = eventDifference(rec.events[i], undefined);
      },
      event(e) {
        if (ended || difference !== null) return;
        if (i >= expectedCount) difference = eventDifference(undefined, e);
        else difference = eventDifference(rec.events[i], e);
        i++;
      },
    },
  });
  let rows = 0;
  if (difference === null) {
    const expected = rec.equity.filter((p) => p.time <= cut);
    const got = result.equity.filter((p) => p.time <= cut);
    rows = expected.length;
    difference = equityDifference(expected, got);
  }
  return { cut, events: expectedCount, rows, difference, ms: performance.now() - t0 };
}

/**
 * Runs the check: the full run once, then each truncated run once (cuts in ascending order, each
 * compared as it runs: no truncated run is held in memory).
 */
export function checkLookahead(o: LookaheadOptions): LookaheadReport {
  const t0 = performance.now();
  const rec = runFull(o);
  const fullMs = performance.now() - t0;
  const late = firstLateStamp(rec);
  const outcomes: CutOutcome[] = [];
  const stopAtFirst = o.stopAtFirst ?? true;
  if (late === null || !stopAtFirst) {
    for (const cut of [...o.cuts].sort((a, b) => a - b)) {
      const outcome = checkCut(o, rec, cut);
      outcomes.push(outcome);
      if (outcome.difference !== null && stopAtFirst) break;
    }
  }
  const passed = late === null && outcomes.every((x) => x.difference === null);
  return { outcomes, late, passed, fullMs, totalMs: performance.now() - t0 };
}

/** What a worker thread of the parallel check gets: plain data (structured clone). */
export interface LookaheadWorkerInit {
  settings: Settings;
  series: readonly BarColumns[];
  fundingRates?: readonly FundingRate[];
  cuts: readonly number[];
  /** only the first worker looks for late stamps (every worker's full run is the same) */
  lateStamps: boolean;
  stopAtFirst: boolean;
  /** values for strategy files' own settings (see preloadStrategies) */
  strategyValues?: Readonly<Record<string, unknown>>;
}

export interface LookaheadWorkerReply {
  outcomes: CutOutcome[];
  late: Difference | null;
  fullMs: number;
}

/** A worker's share: its own full run, then its cuts (up to its first difference when stopAtFirst). */
export function checkShare(o: LookaheadOptions, lateStamps: boolean): LookaheadWorkerReply {
  const t0 = performance.now();
  const rec = runFull(o);
  const fullMs = performance.now() - t0;
  const late = lateStamps ? firstLateStamp(rec) : null;
  const outcomes: CutOutcome[] = [];
  for (const cut of [...o.cuts].sort((a, b) => a - b)) {
    const outcome = checkCut(o, rec, cut);
    outcomes.push(outcome);
    if (outcome.difference !== null && o.stopAtFirst !== false) break;
  }
  return { outcomes, late, fullMs };
}

/**
 * Splits cuts over `workers` shares so each share's truncated runs are about as long (longest
 * first, each to the lightest share): the parallel check's wall time is its heaviest share.
 */
export function shareCuts(series: readonly BarColumns[], cuts: readonly number[], workers: number): number[][] {
  const start = series[0]?.openTime[0] ?? 0;
  const shares = Array.from({ length: Math.max(1, Math.min(workers, cuts.length)) }, () => ({
    cuts: [] as number[],
    load: 0,
  }));
  for (const cut of [...cuts].sort((a, b) => b - a)) {
    const lightest = shares.reduce((m, x) => (x.load < m.load ? x : m));
    lightest.cuts.push(cut);
    lightest.load += cut - start;
  }
  return shares.map((x) => x.cuts.sort((a, b) => a - b));
}

/**
 * `count` distinct cut times drawn with a seeded generator from the bar open times of the first
 * series (each cut ends the data on a bar boundary), in ascending order. The same seed gives the
 * same cuts.
 */
export function seededCuts(series: readonly BarColumns[], count: number, seed: number): number[] {
  const first = series[0]!;
  // a cut at index 0 would leave no data: draw from 1 … length-1
  const span = first.length - 1;
  if (span <= 0) return [];
  const rng = createRng(seed);
  const picked = new Set<number>();
  const want = Math.min(count, span);
  while (picked.size < want) picked.add(1 + Math.floor(rng() * span));
  return [...picked].sort((a, b) => a - b).map((i) => first.openTime[i]!);
}

// ---- comparison ------------------------------------------------------------------------------

const iso = (t: number): string => (Number.isFinite(t) ? new Date(t).toISOString() : String(t));

function symbolOf(e: PipelineEvent): string {
  if ('symbol' in e && typeof e.symbol === 'string') return e.symbol;
  if (e.kind === 'allocated') return e.decision.symbol;
  return '';
}

function show(v: unknown): string {
  if (v === undefined) return 'absent';
  const text =
    typeof v === 'number' ? String(v) : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' ? String(x) : x));
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Same number: bit for bit, NaN equal to NaN. */
const sameNumber = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

/** Structural equality, fast (no allocation): numbers bit for bit, NaN equal to NaN. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number') return typeof b === 'number' && a !== a && b !== b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) if (!sameValue(a[k], b[k])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let n = 0;
  for (const k in ra) {
    if (!sameValue(ra[k], rb[k])) return false;
    n++;
  }
  for (const k in rb) if (--n < 0 || !(k in ra)) return false;
  return true;
}

/** The path of the first field where a and b differ, or null when equal (structural, own keys in order). */
export function firstDifferentField(
  a: unknown,
  b: unknown,
  path = '',
): { path: string; a: unknown; b: unknown } | null {
  if (a === b) return null;
  if (typeof a === 'number' && typeof b === 'number') return sameNumber(a, b) ? null : { path, a, b };
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return { path, a, b };
  if (Array.isArray(a) !== Array.isArray(b)) return { path, a, b };
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    const n = Math.max(a.length, bb.length);
    for (let k = 0; k < n; k++) {
      const d = firstDifferentField(a[k], bb[k], `${path}[${k}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    return firstDifferentField(Array.from(a as ArrayLike<unknown>), Array.from(b as ArrayLike<unknown>), path);
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k in ra) {
    const d = firstDifferentField(ra[k], rb[k], path === '' ? k : `${path}.${k}`);
    if (d !== null) return d;
  }
  for (const k in rb) if (!(k in ra)) return { path: path === '' ? k : `${path}.${k}`, a: undefined, b: rb[k] };
  return null;
}

function eventDifference(full: PipelineEvent | undefined, truncated: PipelineEvent | undefined): Difference | null {
  if (full !== undefined && truncated !== undefined) {
    if (sameValue(full, truncated)) return null;
    // a different event altogether (one run has an event the other has not): say which
    if (full.kind !== truncated.kind || symbolOf(full) !== symbolOf(truncated)) {
      return {
        where: 'event',
        kind: full.kind,
        symbol: symbolOf(full),
        time: full.time,
        field: '(event)',
        full: `${full.kind} ${symbolOf(full)} ${iso(full.time)}`,
        truncated: `${truncated.kind} ${symbolOf(truncated)} ${iso(truncated.time)}`,
        detail:
          `the event streams part: the full run has ${full.kind} ${symbolOf(full)} at ${iso(full.time)} where ` +
          `the truncated run has ${truncated.kind} ${symbolOf(truncated)} at ${iso(truncated.time)}`,
      };
    }
    const d = firstDifferentField(full, truncated);
    if (d === null) return null;
    const kind = full.kind;
    return {
      where: 'event',
      kind,
      symbol: symbolOf(full),
      time: full.time,
      field: d.path === '' ? '(event)' : d.path,
      full: show(d.a),
      truncated: show(d.b),
      detail: `${kind} ${symbolOf(full)} at ${iso(full.time)}: ${d.path} is ${show(d.a)} in the full run, ${show(d.b)} truncated`,
    };
  }
  const e = (full ?? truncated)!;
  const side = full !== undefined ? 'the full run has' : 'the truncated run has';
  const other = full !== undefined ? 'the truncated run has no such event' : 'the full run has no such event';
  return {
    where: 'event',
    kind: e.kind,
    symbol: symbolOf(e),
    time: e.time,
    field: '(event)',
    full: full === undefined ? 'absent' : `${full.kind} ${symbolOf(full)} ${iso(full.time)}`,
    truncated: truncated === undefined ? 'absent' : `${truncated.kind} ${symbolOf(truncated)} ${iso(truncated.time)}`,
    detail: `${side} ${e.kind} ${symbolOf(e)} at ${iso(e.time)}; ${other}`,
  };
}

function equityDifference(full: readonly EquityPoint[], truncated: readonly EquityPoint[]): Difference | null {
  const n = Math.max(full.length, truncated.length);
  for (let k = 0; k < n; k++) {
    const a = full[k];
    const b = truncated[k];
    const d = firstDifferentField(a, b);
    if (d === null) continue;
    const time = (a ?? b)!.time;
    return {
      where: 'equity',
      kind: 'equity',
      symbol: '',
      time,
      field: d.path === '' ? '(row)' : d.path,
      full: show(d.a),
      truncated: show(d.b),
      detail: `equity row ${iso(time)}: ${d.path === '' ? 'row' : d.path} is ${show(d.a)} in the full run, ${show(d.b)} truncated`,
    };
  }
  return null;
}
