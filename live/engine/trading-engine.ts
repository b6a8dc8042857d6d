import { Subject, type Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type {
  Bar,
  Decision,
  Denied,
  FeatureBar,
  Fill,
  OperatorCommand,
  Order,
  PipelineEvent,
  PositionView,
  PortfolioSnapshot,
  RiskStateChanged,
  SymbolFilters,
  TradeClosed,
  TradingState,
} from '../../pipelines/model/index.ts';
import { NONE } from '../../pipelines/model/index.ts';
import { buildPipeline } from '../../pipelines/build-pipeline.ts';
import type { ClockPort, ExecutionPort, JournalEntry, JournalPort, VenueEvent } from '../../pipelines/ports.ts';
import { tapedExecution, type VenueTape } from './taped-execution.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { JournalBar } from '../journal/journal-schema.ts';
import type { Settings } from '../../pipelines/settings.ts';

/** Where the engine's events go besides its own state: telemetry, metrics, Telegram, SSE. */
export type EventSink = (event: PipelineEvent) => void;

export interface EngineOptions {
  settings: Settings;
  filters: ReadonlyMap<string, SymbolFilters>;
  /** live closed bars (the Aster or simulator WebSocket, or a replay) */
  market: Observable<Bar>;
  /** recent history to warm the features before trading; not traded on */
  warmup?: () => Promise<Bar[]>;
  /**
   * For sources that stream their own history first (the Aster port): bars closing at or before
   * this time are history, fed with entries halted, like `warmup`.
   */
  historyUntil?: number;
  execution: ExecutionPort;
  agents?: OperatorFunction<PipelineEvent, PipelineEvent>;
  journal: JournalPort;
  clock: ClockPort;
  /** receive every event once, live only (never the journal replay) */
  sinks?: EventSink[];
  /** called once per event with the wall-clock cost from bar arrival (decision latency) */
  onOrderLatency?: (seconds: number) => void;
  /**
   * The pipeline died (an operator threw): nothing is decided any more and bot-held stops are no
   * longer enforced. Called once, with the reason; the service exits on it (see serve).
   */
  onFailure?: (reason: string) => void;
  /**
   * A real venue (live mode): its orders and events are journaled too (see taped-execution.ts),
   * and after a replay the exchange is asked about what the journal cannot know.
   */
  venue?: {
    /**
     * Orders sent before the restart that had no final outcome: the exchange tells what became of
     * them, and which fills the journal lacks (`journaled`: the quantity it holds per client order
     * id and its newest fill's time; see live/aster/restart-catch-up.ts).
     */
    reconcile(
      open: readonly { order: Order; filled: number }[],
      journaled: { readonly filled: ReadonlyMap<string, number>; readonly lastFillTime: number },
    ): Promise<VenueEvent[]>;
    /** the book after reconciliation vs the exchange's positions: a description of any mismatch */
    verify(positions: readonly PositionView[]): Promise<string | null>;
  };
}

/** What an emergency stop did: the flatten orders it produced, and positions left without one. */
export interface EmergencyOutcome {
  /** open positions when the command was processed */
  positions: number;
  /** reduce-only orders produced now (handed to the venue) */
  orders: Order[];
  /** symbols whose flatten order from an earlier emergency stop is still in flight */
  alreadyFlattening: string[];
  /** open positions with no flatten order at all */
  uncovered: string[];
}

export interface SubmitOutcome {
  accepted: boolean;
  /** what the pipeline did with it, in order: allocated / denied / intent / order events */
  events: PipelineEvent[];
  reason?: string;
}

const KEEP = { trades: 200, decisions: 200, denials: 100, equity: 2000, bars: 300, fills: 200 };

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max + 32) list.splice(0, list.length - max);
}

/**
 * The live runner: the SAME pipeline as the backtest, fed by live bars, with its inputs
 * journaled before they are processed. On start it replays the journal (rebuilding positions,
 * stops, risk state), warms up on fresh history if the journal is empty, then follows the
 * market. Commands (halt, resume, emergency stop) and external decisions travel the pipeline as
 * events, so a replay meets them at the same place and the outcome is the same.
 */
export class TradingEngine {
  private readonly inputs = new Subject<Bar>();
  private readonly control = new Subject<OperatorCommand | Decision>();
  private pipelineSub: Subscription | null = null;
  private marketSub: Subscription | null = null;
  private queue: Promise<void> = Promise.resolve();
  private replaying = false;
  private collecting: PipelineEvent[] | null = null;
  private pushStarted = 0;
  private externalCount = 0;
  private readonly startedAt: number;
  private readonly execution: ExecutionPort;
  // ---- venue tape (live mode) ----
  private inApply = false;
  private pendingInInput: VenueEvent[] = [];
  private venueEmit: ((e: VenueEvent) => void) | null = null;
  private recordedOrderIds = new Set<string>();
  /** symbol → close time of the newest bar pushed in (journaled), whatever the pipeline has emitted yet */
  private readonly lastInput = new Map<string, number>();
  private readonly unsent: Order[] = [];
  /** orders known to have been sent, with what came back, for reconciliation */
  private readonly sentOrders = new Map<string, { order: Order; filled: number; done: boolean }>();

  /** every fill replayed or taken, for the start's catch-up of fills the journal lacks */
  private readonly journaledFills = { filled: new Map<string, number>(), lastFillTime: -Infinity };
  /** symbol → client order id of its halt-flatten order still in flight */
  private readonly flattenInFlight = new Map<string, string>();

  // ---- state the API and dashboard read ----
  /** start() has finished: the journal is replayed and the market is followed */
  ready = false;
  /** shutdown() was called: no input is taken any more */
  closed = false;
  /** why the pipeline died (null while it runs): nothing trades, stops are not enforced */
  failure: string | null = null;
  /** bumped on every event: readers cache what they derive from the state until it moves */
  version = 0;
  lastBarTime = 0;
  lastError: string | null = null;
  portfolio: PortfolioSnapshot | null = null;
  riskState: TradingState = 'ACTIVE';
  riskReason = '';
  /** an operator halt (stop / emergency stop) is in force */
  operatorHalted = false;
  readonly trades: TradeClosed[] = [];
  readonly decisions: Decision[] = [];
  readonly denials: Denied[] = [];
  readonly fills: Fill[] = [];
  readonly equityCurve: { time: number; equity: number }[] = [];
  readonly bars = new Map<string, Bar[]>();
  readonly features = new Map<string, FeatureBar>();
  readonly riskChanges: RiskStateChanged[] = [];
  readonly counts = { bars: 0, decisions: 0, orders: 0, fills: 0, rejections: 0, denials: 0, replayed: 0 };
  /** open protective stop / take-profit price per symbol, from the latest orders */
  readonly protection = new Map<string, { stop?: number; takeProfit?: number }>();

  constructor(private readonly opts: EngineOptions) {
    this.startedAt = opts.clock.now();
    this.execution = opts.venue ? tapedExecution(opts.execution, this.tape()) : opts.execution;
  }

  private journalSync(entry: JournalEntry): void {
    const journal = this.opts.journal as JournalPort & { appendSync?: (e: JournalEntry) => void };
    if (!journal.appendSync) throw new Error('a real venue needs a journal with synchronous appends');
    journal.appendSync(entry);
  }

  private tape(): VenueTape {
    return {
      replaying: () => this.replaying,
      inInput: () => this.inApply,
      admit: (o) => {
        if (!this.recordedOrderIds.has(o.clientOrderId)) return true;
        // the journal says this id went out already: sending it again could fill twice
        this.lastError = `order ${o.clientOrderId} (${o.symbol}) not sent: its client order id is already in the journal`;
        this.version++;
        return false;
      },
      recordOrder: (o) => {
        this.journalSync({ type: 'order', time: o.time, data: o });
        this.recordedOrderIds.add(o.clientOrderId);
        this.sentOrders.set(o.clientOrderId, { order: o, filled: 0, done: false });
      },
      recordEvent: (e, phase) => this.journalSync({ type: 'venue', time: e.time, data: { phase, event: e } }),
      takeInInput: () => this.pendingInInput.splice(0),
      setEmitter: (emit) => {
        this.venueEmit = emit;
      },
      onOrderDuringReplay: (o) => {
        if (!this.recordedOrderIds.has(o.clientOrderId)) this.unsent.push(o);
      },
    };
  }

  /** The journal is being replayed: agents answer from their tape only, nothing is sent. */
  get replayingJournal(): boolean {
    return this.replaying;
  }

  get running(): boolean {
    return this.pipelineSub !== null && !this.pipelineSub.closed && !this.operatorHalted;
  }

  /** Takes commands and decisions: started, not shutting down, pipeline alive. */
  get alive(): boolean {
    return this.ready && !this.closed && this.failure === null;
  }

  /** Why the engine takes no commands, in words (null when alive). */
  get unavailable(): string | null {
    if (this.failure !== null) return `the pipeline has stopped: ${this.failure}`;
    if (this.closed) return 'the service is shutting down';
    if (!this.ready) return 'the service is starting (replaying its journal)';
    return null;
  }

  private fail(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.lastError = reason;
    if (this.failure !== null) return;
    this.failure = reason;
    this.version++;
    this.marketSub?.unsubscribe();
    this.opts.onFailure?.(reason);
  }

  get started(): boolean {
    return this.pipelineSub !== null && !this.pipelineSub.closed;
  }

  uptimeSeconds(): number {
    return (this.opts.clock.now() - this.startedAt) / 1000;
  }

  /** Replays the journal, warms up if new, then follows the live market. */
  async start(): Promise<void> {
    if (this.pipelineSub) return;
    const { settings, filters } = this.opts;
    const pipeline = buildPipeline(
      settings,
      {
        market: { bars: () => this.inputs },
        execution: this.execution,
        agents: this.opts.agents,
        control: this.control,
      },
      { filters },
    );
    this.pipelineSub = pipeline.subscribe({
      next: (e) => this.onEvent(e),
      error: (error: unknown) => this.fail(error),
    });

    this.replaying = true;
    const all: JournalEntry[] = [];
    for await (const entry of this.opts.journal.replay()) all.push(entry);
    for (const e of all) {
      if (e.type !== 'order') continue;
      const o = e.data as Order;
      this.recordedOrderIds.add(o.clientOrderId);
      this.sentOrders.set(o.clientOrderId, { order: o, filled: 0, done: false });
    }
    for (let i = 0; i < all.length; i++) {
      const entry = all[i]!;
      if (entry.type === 'bar' || entry.type === 'control') {
        // venue events recorded while this input was processed go back in before it is passed on
        for (let j = i + 1; j < all.length; j++) {
          const next = all[j]!;
          if (next.type === 'order') continue;
          const v = next.data as { phase?: string; event?: VenueEvent };
          if (next.type !== 'venue' || v.phase !== 'in-input') break;
          this.pendingInInput.push(v.event!);
        }
        this.apply(entry);
        this.pendingInInput.length = 0;
      } else if (entry.type === 'venue') {
        const v = entry.data as { phase: string; event: VenueEvent };
        if (v.phase === 'between') this.venueEmit?.(v.event);
      }
    }
    this.counts.replayed = all.length;
    this.replaying = false;
    if (this.failure !== null) {
      throw new SapphireError(
        'JOURNAL_INVALID',
        `the pipeline stopped while replaying the journal: ${this.failure}; nothing was sent`,
      );
    }
    if (this.opts.venue) await this.reconcileWithVenue();

    const warmup = this.opts.warmup ? await this.opts.warmup() : [];
    // the journal's end, not what the pipeline has emitted: nothing older is ever appended
    const fresh = warmup.filter((b) => b.time > Math.max(this.lastBarTime, this.lastInput.get(b.symbol) ?? -Infinity));
    if (fresh.length > 0) {
      // history (first start) or bars missed while down: feed them without trading on them
      const keepHalted = this.operatorHalted;
      const entries: JournalEntry[] = fresh.map((bar) => ({ type: 'bar', time: bar.time, data: bar }));
      if (!keepHalted) {
        entries.unshift(this.command('halt', 'warm-up on history', fresh[0]!.time, 'warm-up'));
        entries.push(this.command('resume', 'warm-up done', fresh.at(-1)!.time, 'warm-up'));
      }
      await this.enqueueBatch(entries);
    }
    const historyUntil = this.opts.historyUntil ?? -Infinity;
    let inHistory = false;
    let haltedForHistory = false;
    this.marketSub = this.opts.market.subscribe({
      next: (bar) => {
        // a bar the journal would refuse on replay is never journaled: it would end the
        // pipeline now and every restart after
        const checked = JournalBar.safeParse(bar);
        if (!checked.success) {
          const issue = checked.error.issues[0]!;
          this.lastError = `market feed: bar dropped (${String(bar?.symbol)} ${String(bar?.time)}: ${issue.path.join('.')}: ${issue.message})`;
          return;
        }
        const seen = this.lastInput.get(bar.symbol);
        if (seen !== undefined && bar.time <= seen) return;
        if (bar.time <= historyUntil && !inHistory) {
          inHistory = true;
          haltedForHistory = !this.operatorHalted;
          if (haltedForHistory) void this.enqueue(this.command('halt', 'warm-up on history', bar.time, 'warm-up'));
        } else if (bar.time > historyUntil && inHistory) {
          inHistory = false;
          // the queue is ordered: the resume lands after every history bar
          if (haltedForHistory) void this.enqueue(this.command('resume', 'warm-up done', bar.time, 'warm-up'));
        }
        void this.enqueue({ type: 'bar', time: bar.time, data: bar });
      },
      error: (error: unknown) => {
        this.lastError = `market feed: ${error instanceof Error ? error.message : String(error)}`;
      },
    });
    this.ready = true;
  }

  private command(
    command: OperatorCommand['command'],
    reason: string,
    time: number,
    origin: OperatorCommand['origin'] = 'operator',
  ): JournalEntry {
    const event: OperatorCommand = { kind: 'command', time, command, origin, reason };
    return { type: 'control', time, data: event };
  }

  /** Journals an input, then pushes it through the pipeline; inputs are processed one at a time. */
  private enqueue(entry: JournalEntry): Promise<void> {
    const run = async () => {
      // after the pipeline's death nothing more is journaled: a replay would act on it
      if (this.failure !== null) return;
      await this.opts.journal.append(entry);
      this.apply(entry);
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** Like enqueue for many inputs, journaled together (one durable write when the journal can). */
  private enqueueBatch(entries: JournalEntry[]): Promise<void> {
    const journal = this.opts.journal as JournalPort & { appendManySync?: (e: readonly JournalEntry[]) => void };
    const run = async () => {
      if (journal.appendManySync) journal.appendManySync(entries);
      else for (const e of entries) await journal.append(e);
      for (const e of entries) this.apply(e);
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** After a replay: what became of orders in flight at the crash, orders never sent, and the book. */
  private async reconcileWithVenue(): Promise<void> {
    const venue = this.opts.venue!;
    const open = [...this.sentOrders.values()]
      .filter((s) => !s.done)
      .map((s) => ({ order: s.order, filled: s.filled }));
    const outcomes = await venue.reconcile(open, this.journaledFills);
    for (const e of outcomes) {
      this.journalSync({ type: 'venue', time: e.time, data: { phase: 'between', event: e } });
      this.venueEmit?.(e);
    }
    // produced by the replay but never recorded as sent: the recorded run never sent them (its
    // pipeline had not got that far, e.g. a decision waiting for an agent). A replay must not
    // send anything, so they are rejected; the strategy decides again on live bars.
    for (const o of this.unsent.splice(0)) {
      const rejected: VenueEvent = {
        kind: 'order-rejected',
        time: this.lastBarTime,
        symbol: o.symbol,
        clientOrderId: o.clientOrderId,
        reason: 'not sent: produced while replaying the journal, never sent by the recorded run',
      };
      this.journalSync({ type: 'venue', time: rejected.time, data: { phase: 'between', event: rejected } });
      this.venueEmit?.(rejected);
    }
    // the book shows injected fills at the next bar's snapshot: compare with the exchange then
    if (outcomes.length > 0) this.verifyAtNextSnapshot = true;
    else await this.verifyBook();
  }

  private verifyAtNextSnapshot = false;

  private async verifyBook(): Promise<void> {
    const mismatch = await this.opts.venue!.verify(this.portfolio?.positions ?? []);
    if (mismatch !== null) {
      this.lastError = `reconciliation: ${mismatch}`;
      await this.enqueue(this.command('halt', `reconciliation: ${mismatch}`, this.lastBarTime));
    }
  }

  private apply(entry: JournalEntry): void {
    this.inApply = true;
    try {
      this.applyInput(entry);
    } finally {
      this.inApply = false;
    }
  }

  private applyInput(entry: JournalEntry): void {
    if (entry.type === 'bar') {
      const bar = entry.data as Bar;
      // a bar older than one already processed for its symbol is a duplicate from a reconnect
      const last = this.lastInput.get(bar.symbol);
      if (last !== undefined && bar.time <= last) return;
      this.lastInput.set(bar.symbol, bar.time);
      this.pushStarted = performance.now();
      this.inputs.next(bar);
    } else if (entry.type === 'control') {
      const event = entry.data as OperatorCommand | Decision;
      if (event.kind === 'decision' && event.source === 'external') this.externalCount++;
      this.pushStarted = performance.now();
      this.control.next(event);
    }
  }

  private onEvent(e: PipelineEvent): void {
    this.version++;
    this.collecting?.push(e);
    switch (e.kind) {
      case 'bar': {
        this.counts.bars++;
        if (e.time > this.lastBarTime) this.lastBarTime = e.time;
        let list = this.bars.get(e.symbol);
        if (!list) this.bars.set(e.symbol, (list = []));
        pushBounded(list, e, KEEP.bars);
        break;
      }
      case 'features':
        this.features.set(e.symbol, e);
        break;
      case 'portfolio': {
        this.portfolio = e;
        if (this.verifyAtNextSnapshot && !this.replaying) {
          this.verifyAtNextSnapshot = false;
          // an exchange that does not answer now is a reason to say so, not to crash the process
          this.verifyBook().catch((e: unknown) => {
            this.lastError = `reconciliation: the book could not be compared with the exchange: ${e instanceof Error ? e.message : String(e)}`;
            this.version++;
          });
        }
        const last = this.equityCurve.at(-1);
        if (last && last.time === e.time) last.equity = e.equity;
        else pushBounded(this.equityCurve, { time: e.time, equity: e.equity }, KEEP.equity);
        break;
      }
      case 'decision':
        this.counts.decisions++;
        pushBounded(this.decisions, e, KEEP.decisions);
        break;
      case 'denied':
        this.counts.denials++;
        pushBounded(this.denials, e, KEEP.denials);
        break;
      case 'order':
        this.counts.orders++;
        this.trackProtection(e);
        if (e.reason === 'halt-flatten') this.flattenInFlight.set(e.symbol, e.clientOrderId);
        if (e.type !== 'MARKET') {
          // a new stop / take-profit generation replaces the previous one at the venue
          for (const s of this.sentOrders.values()) {
            if (s.order.symbol === e.symbol && s.order.type === e.type && s.order.clientOrderId !== e.clientOrderId) {
              s.done = true;
            }
          }
        }
        if (!this.replaying) this.opts.onOrderLatency?.((performance.now() - this.pushStarted) / 1000);
        break;
      case 'fill': {
        this.counts.fills++;
        pushBounded(this.fills, e, KEEP.fills);
        const { filled } = this.journaledFills;
        filled.set(e.clientOrderId, (filled.get(e.clientOrderId) ?? 0) + e.quantity);
        this.journaledFills.lastFillTime = Math.max(this.journaledFills.lastFillTime, e.time);
        const sent = this.sentOrders.get(e.clientOrderId);
        if (sent) {
          sent.filled += e.quantity;
          // a MARKET order is done when filled; a stop/take-profit closes the position in one go
          if (sent.order.quantity === 0 || sent.filled >= sent.order.quantity - 1e-12) sent.done = true;
        }
        break;
      }
      case 'order-rejected': {
        this.counts.rejections++;
        if (this.flattenInFlight.get(e.symbol) === e.clientOrderId) this.flattenInFlight.delete(e.symbol);
        const sent = this.sentOrders.get(e.clientOrderId);
        if (sent) sent.done = true;
        break;
      }
      case 'trade-closed':
        pushBounded(this.trades, e, KEEP.trades);
        this.protection.delete(e.symbol);
        this.flattenInFlight.delete(e.symbol);
        for (const s of this.sentOrders.values())
          if (s.order.symbol === e.symbol && s.order.type !== 'MARKET') s.done = true;
        break;
      case 'risk-state':
        this.riskState = e.to;
        this.riskReason = e.reason;
        pushBounded(this.riskChanges, e, 50);
        break;
      case 'command':
        if (e.command === 'resume') this.operatorHalted = false;
        else if (e.origin === 'operator') this.operatorHalted = true;
        break;
      default:
        break;
    }
    if (!this.replaying && this.opts.sinks) for (const sink of this.opts.sinks) sink(e);
  }

  private trackProtection(o: Order): void {
    if (o.type === 'STOP_MARKET')
      this.protection.set(o.symbol, { ...this.protection.get(o.symbol), stop: o.stopPrice });
    if (o.type === 'TAKE_PROFIT_MARKET') {
      this.protection.set(o.symbol, { ...this.protection.get(o.symbol), takeProfit: o.stopPrice });
    }
  }

  /** Commands need a live engine: a command to a dead pipeline would be journaled and do nothing. */
  private assertAlive(): void {
    const why = this.unavailable;
    if (why !== null) throw new SapphireError('ENGINE_UNAVAILABLE', `${why}; the command was not taken`);
  }

  /** Operator halt: no new entries; exits, stops and take-profits keep working. */
  async stop(reason = 'operator stop'): Promise<void> {
    this.assertAlive();
    return this.enqueue(this.command('halt', reason, this.lastBarTime));
  }

  /** Lifts an operator halt (not the drawdown floor, which only new settings lift). */
  async resume(reason = 'operator start'): Promise<void> {
    this.assertAlive();
    return this.enqueue(this.command('resume', reason, this.lastBarTime));
  }

  /**
   * Halts and flattens every position with reduce-only market orders (filled at the next bar).
   * Says what it did: the orders produced, and any open position left without one.
   */
  async emergencyStop(reason = 'emergency stop'): Promise<EmergencyOutcome> {
    this.assertAlive();
    const events = await this.collect(this.command('emergency-stop', reason, this.lastBarTime));
    const orders = events.filter((e): e is Order => e.kind === 'order' && e.reason === 'halt-flatten');
    const open = this.portfolio?.positions.filter((p) => p.quantity !== 0).map((p) => p.symbol) ?? [];
    const covered = new Set(orders.map((o) => o.symbol));
    const alreadyFlattening = open.filter((s) => !covered.has(s) && this.flattenInFlight.has(s));
    return {
      positions: open.length,
      orders,
      alreadyFlattening,
      uncovered: open.filter((s) => !covered.has(s) && !this.flattenInFlight.has(s)),
    };
  }

  /** Enqueues one input and returns every event the pipeline produced while processing it. */
  private async collect(entry: JournalEntry): Promise<PipelineEvent[]> {
    const events: PipelineEvent[] = [];
    await this.queue;
    const previous = this.collecting;
    this.collecting = events;
    try {
      await this.enqueue(entry);
    } finally {
      this.collecting = previous;
    }
    return events;
  }

  /**
   * An external decision (POST /inference/decisions). It is built on the symbol's latest
   * features and goes through allocation, sizing and risk like any decision; the answer lists
   * what each stage did with it.
   */
  async submitDecision(input: {
    symbol: string;
    action: Decision['action'];
    confidence: number;
    reason: string;
  }): Promise<SubmitOutcome> {
    this.assertAlive();
    const features = this.features.get(input.symbol);
    if (!features) {
      return { accepted: false, events: [], reason: `no market data yet for ${input.symbol}` };
    }
    const time = this.lastBarTime;
    // external decisions get their own sequence space so their client order ids never collide
    // with the strategy's (which use the bar's minute index)
    const seq = 1_000_000_000 + this.externalCount;
    const decision: Decision = {
      kind: 'decision',
      time,
      symbol: input.symbol,
      seq,
      action: input.action,
      confidence: input.confidence,
      source: 'external',
      price: features.bar.close,
      features,
      gates: [{ gate: 'external', passed: true, value: input.confidence, limit: 0 }],
      opinions: NONE,
    };
    const events = await this.collect({ type: 'control', time, data: decision });
    const relevant = events.filter((e) => e.kind !== 'portfolio' && e.kind !== 'bar');
    const denied = relevant.find((e) => e.kind === 'denied');
    return {
      accepted: denied === undefined,
      events: relevant,
      reason: denied?.kind === 'denied' ? `${denied.stage}:${denied.rule}: ${denied.detail}` : undefined,
    };
  }

  /** Resolves when every input received so far has been journaled and processed. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.queue;
      await seen.catch(() => undefined);
    } while (seen !== this.queue);
  }

  /** Stops following the market and the pipeline (the process is shutting down). */
  async shutdown(): Promise<void> {
    this.marketSub?.unsubscribe();
    // inputs already queued are finished; the public commands take nothing new
    this.closed = true;
    this.version++;
    await this.idle();
    this.pipelineSub?.unsubscribe();
    this.inputs.complete();
  }
}
