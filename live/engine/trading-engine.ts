import type { Observable, OperatorFunction, Subscription } from 'rxjs';
import type {
  Bar,
  CancelOrder,
  Decision,
  OperatorCommand,
  Order,
  PipelineEvent,
  SymbolFilters,
} from '../../pipelines/model/index.ts';
import { NONE } from '../../pipelines/model/index.ts';
import type { ClockPort, ExecutionPort, JournalEntry, JournalPort, VenueEvent } from '../../pipelines/ports.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { statesFromJson, statesToJson } from '../../pipelines/stage.ts';
import type { StageStates } from '../../pipelines/stage-runner.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { JournalBar, type SnapshotData } from '../journal/journal-schema.ts';
import type { JournalTail } from '../journal/file-journal.ts';
import { tapedExecution } from './taped-execution.ts';
import { Kernel, kernelIdentity, type KernelIdentity } from './kernel.ts';
import { Projections, type ReadModel } from './projections.ts';
import { VenueReconciler, type VenuePort } from './venue-reconciler.ts';
import {
  FROM_EXCHANGE_FLAG,
  kernelChanges,
  kernelMismatch,
  snapshotRecord,
  type EngineState,
} from './engine-snapshot.ts';
import { decisionOutcome, type SubmitOutcome } from './decision-outcome.ts';
import { takeOverFromExchange } from './exchange-take-over.ts';

export type { SubmitOutcome } from './decision-outcome.ts';
export type { ReadModel } from './projections.ts';

/** Where the engine's events go besides its own state: telemetry, metrics, Telegram, SSE. */
export type EventSink = (event: PipelineEvent) => void;

/** The journal store as the engine uses it (live/journal/file-journal.ts). */
export interface EngineJournal extends JournalPort {
  readonly path: string;
  appendSync(entry: JournalEntry): void;
  appendManySync(entries: readonly JournalEntry[]): void;
  readSinceSnapshot(): JournalTail;
  appendSnapshotSync(time: number, snapshot: SnapshotData): void;
  /** the line number of the last snapshot (for an error naming it) */
  snapshotLine(): number;
}

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
  journal: EngineJournal;
  /** the journal's tail when the caller has read it already (the service checks it first) */
  tail?: JournalTail;
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
  venue?: VenuePort;
  /** live, START_FROM_EXCHANGE: a journal with no venue history takes the exchange's book over (adoption.ts) */
  adoptFromExchange?: boolean;
  /** where the engine says what it did at start (the adoption), one line each */
  log?: (line: string) => void;
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

/**
 * The live runner: the SAME pipeline as the backtest (the kernel), fed by live bars, with its
 * inputs journaled before they are processed. Every JOURNAL_SNAPSHOT_EVERY inputs it writes a
 * snapshot record (kernel state, its own, the read models). On start it restores the last
 * snapshot whose fingerprint matches and replays only the entries after it (refusing one written
 * by other settings or code), asks the venue about orders in flight and compares the book with
 * the exchange before anything is sent, warms up on fresh history, then follows the market.
 * Commands and external decisions travel the pipeline as events, so a replay meets them at the
 * same place and the outcome is the same.
 */
export class TradingEngine {
  private readonly kernel: Kernel;
  private readonly projections = new Projections();
  private readonly reconciler: VenueReconciler | null;
  private readonly identity: KernelIdentity;
  private marketSub: Subscription | null = null;
  private queue: Promise<void> = Promise.resolve();
  private replaying = false;
  private inApply = false;
  private collecting: PipelineEvent[] | null = null;
  private pushStarted = 0;
  private externalCount = 0;
  private inputs = 0;
  private inputsSinceSnapshot = 0;
  private lastInputTime = 0;
  private verifyAtNextSnapshot = false;
  /** a start from the exchange whose take-over waits for the first live bar */
  private adoptionPending = false;
  private snapshotRetry = false;
  private readonly startedAt: number;
  /** symbol → close time of the newest bar pushed in (journaled), whatever the pipeline has emitted yet */
  private readonly lastInput = new Map<string, number>();
  /** symbol → client order id of its halt-flatten order still in flight */
  private readonly flattenInFlight = new Map<string, string>();

  /** start() has finished: the journal is replayed and the market is followed */
  ready = false;
  /** shutdown() was called: no input is taken any more */
  closed = false;
  /** why the pipeline died (null while it runs): nothing trades, stops are not enforced */
  failure: string | null = null;
  /** bumped on every event: readers cache what they derive from the state until it moves */
  version = 0;
  lastError: string | null = null;
  /** live bars left out because a newer bar of another symbol had been taken already */
  lateBars = 0;
  /** an operator halt (stop / emergency stop) is in force */
  operatorHalted = false;

  constructor(private readonly opts: EngineOptions) {
    this.startedAt = opts.clock.now();
    this.identity = kernelIdentity(opts.settings, opts.filters);
    this.reconciler = opts.venue
      ? new VenueReconciler(opts.venue, {
          journalSync: (entry) => opts.journal.appendSync(entry),
          replaying: () => this.replaying,
          inInput: () => this.inApply,
          report: (error) => {
            this.lastError = error;
            this.version++;
          },
        })
      : null;
    const execution = this.reconciler ? tapedExecution(opts.execution, this.reconciler.tape()) : opts.execution;
    this.kernel = new Kernel({ settings: opts.settings, filters: opts.filters, execution, agents: opts.agents });
  }

  // ---- the read models (API, dashboard, Telegram, metrics) ----
  /** every read model, read-only */
  get read(): ReadModel {
    return this.projections;
  }
  get portfolio() {
    return this.projections.portfolio;
  }
  get riskState() {
    return this.projections.riskState;
  }
  get riskReason() {
    return this.projections.riskReason;
  }
  get lastBarTime() {
    return this.projections.lastBarTime;
  }
  get trades() {
    return this.read.trades;
  }
  get decisions() {
    return this.read.decisions;
  }
  get denials() {
    return this.read.denials;
  }
  get fills() {
    return this.read.fills;
  }
  get equityCurve() {
    return this.read.equityCurve;
  }
  get bars() {
    return this.read.bars;
  }
  get features() {
    return this.read.features;
  }
  get riskChanges() {
    return this.read.riskChanges;
  }
  get counts() {
    return this.read.counts;
  }
  get protection() {
    return this.read.protection;
  }

  /** What a snapshot of this engine must match: kernel, code and settings fingerprint. */
  get kernelIdentity(): KernelIdentity {
    return this.identity;
  }

  /** The journal is being replayed: agents answer from their tape only, nothing is sent. */
  get replayingJournal(): boolean {
    return this.replaying;
  }

  get running(): boolean {
    return this.kernel.started && !this.operatorHalted;
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

  get started(): boolean {
    return this.kernel.started;
  }

  uptimeSeconds(): number {
    return (this.opts.clock.now() - this.startedAt) / 1000;
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

  /**
   * Restores the last snapshot (if any) and replays what follows it, asks the venue what the
   * journal cannot know, warms up if new, then follows the live market.
   */
  async start(): Promise<void> {
    if (this.kernel.started) return;
    const tail = this.opts.tail ?? this.opts.journal.readSinceSnapshot();
    const restore = tail.snapshot ? this.restoreEngine(tail.snapshot) : undefined;
    this.kernel.start(restore, { next: (e) => this.onEvent(e), error: (error: unknown) => this.fail(error) });
    this.replaying = true;
    try {
      this.replay(tail.entries);
    } finally {
      this.replaying = false;
    }
    this.projections.counts.replayed = tail.entries.length;
    if (this.failure !== null) {
      throw new SapphireError(
        'JOURNAL_INVALID',
        `the pipeline stopped while replaying the journal: ${this.failure}; nothing was sent`,
      );
    }
    if (this.reconciler) await this.reconcileWithVenue();
    await this.warmUp();
    this.follow();
    this.ready = true;
  }

  /** Puts the engine's own state back from a snapshot; returns the stage states for the kernel. */
  private restoreEngine(snapshot: SnapshotData): StageStates {
    const changes = kernelChanges(snapshot, this.identity);
    if (changes !== null) {
      throw kernelMismatch(`${this.opts.journal.path}:${this.opts.journal.snapshotLine()}`, changes);
    }
    const engine = statesFromJson(snapshot.engine) as EngineState;
    for (const [symbol, time] of engine.lastInput) this.lastInput.set(symbol, time);
    for (const [symbol, id] of engine.flattenInFlight) this.flattenInFlight.set(symbol, id);
    this.externalCount = engine.externalCount;
    this.operatorHalted = engine.operatorHalted;
    this.projections.restore(engine.projections);
    if (engine.reconciler !== null) this.reconciler?.restore(engine.reconciler);
    this.inputs = snapshot.inputs;
    this.lastInputTime = snapshot.lastInputTime;
    return statesFromJson(snapshot.states) as StageStates;
  }

  /** Replays journal entries: inputs through the kernel, recorded venue events at their places. */
  private replay(entries: readonly JournalEntry[]): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      // sent as of its place in the journal (see VenueReconciler.noteSent)
      if (entry.type === 'order') this.reconciler?.noteSent(entry.data as Order);
      else if (entry.type === 'bar' || entry.type === 'control') {
        // venue events recorded while this input was processed go back in before it is passed on
        for (let j = i + 1; j < entries.length; j++) {
          const next = entries[j]!;
          if (next.type === 'order') continue;
          const v = next.data as { phase?: string; event?: VenueEvent };
          if (next.type !== 'venue' || v.phase !== 'in-input') break;
          this.reconciler?.queueInInput(v.event!);
        }
        this.apply(entry);
        this.reconciler?.clearInInput();
        this.countInput(entry);
      } else if (entry.type === 'venue') {
        const v = entry.data as { phase: string; event: VenueEvent };
        if (v.phase === 'between') this.reconciler?.emitRecorded(v.event);
      }
    }
  }

  /** After a replay: what became of orders in flight at the crash, orders never sent, and the book. */
  private async reconcileWithVenue(): Promise<void> {
    const outcomes = await this.reconciler!.reconcile(this.lastBarTime);
    // what is still working (a position's stop and take-profit) is the execution port's to
    // replace or cancel, as if this life had placed it
    this.reconciler!.venue.adoptWorking(this.reconciler!.working());
    // a start from the exchange takes its book over at the first live bar (the stops need the
    // features of the history first), and compares after that
    if (this.opts.adoptFromExchange === true && !this.reconciler!.hasHistory()) this.adoptionPending = true;
    // the book shows injected fills at the next bar's snapshot: compare with the exchange then
    else if (outcomes) this.verifyAtNextSnapshot = true;
    else await this.verifyBook();
  }

  /** A start from the exchange, between the history and the first live bar (exchange-take-over.ts). */
  private async takeOverFromExchange(): Promise<void> {
    const time = this.lastInputTime;
    const { settings } = this.opts;
    const outcome = await takeOverFromExchange(
      this.reconciler!.venue,
      { botId: settings.BOT_ID, symbols: settings.SYMBOLS, time },
      (e) => this.reconciler!.between(e),
      this.opts.log,
    );
    if ('halt' in outcome) await this.take(this.command('halt', outcome.halt, time));
    this.lastError = 'halt' in outcome ? outcome.halt : (outcome.problem ?? this.lastError);
    this.verifyAtNextSnapshot = !('halt' in outcome);
    this.version++;
  }

  private async verifyBook(): Promise<void> {
    let mismatch = await this.reconciler!.venue.verify(this.portfolio?.positions ?? []);
    // a journal with no history cannot know the exchange's positions: say how to take them over
    if (mismatch !== null && !this.reconciler!.hasHistory() && this.opts.adoptFromExchange !== true)
      mismatch += `; this journal has no history: start with ${FROM_EXCHANGE_FLAG} to take the exchange's positions over`;
    if (mismatch !== null) {
      // the error shows once the halt is in force: a reader never sees the one without the other
      await this.enqueue(this.command('halt', `reconciliation: ${mismatch}`, this.lastBarTime));
      this.lastError = `reconciliation: ${mismatch}`;
    }
  }

  /** History (first start) or bars missed while down: fed without trading on them. */
  private async warmUp(): Promise<void> {
    const warmup = this.opts.warmup ? await this.opts.warmup() : [];
    // the journal's end, not what the pipeline has emitted: nothing older is ever appended
    const fresh = warmup.filter((b) => b.time > Math.max(this.lastBarTime, this.lastInput.get(b.symbol) ?? -Infinity));
    if (fresh.length === 0) return;
    const entries: JournalEntry[] = fresh.map((bar) => ({ type: 'bar', time: bar.time, data: bar }));
    if (!this.operatorHalted) {
      entries.unshift(this.command('halt', 'warm-up on history', fresh[0]!.time, 'warm-up'));
      entries.push(this.command('resume', 'warm-up done', fresh.at(-1)!.time, 'warm-up'));
    }
    await this.enqueueBatch(entries);
  }

  /** Follows the live market: each new bar is journaled, then processed. */
  private follow(): void {
    const historyUntil = this.opts.historyUntil ?? -Infinity;
    let inHistory = false;
    let haltedForHistory = false;
    // the newest bar taken, any symbol: the pipeline takes bars in time order across symbols
    let newest = Math.max(-Infinity, ...this.lastInput.values());
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
        if (bar.time < newest) {
          // one symbol's bar later than another's newer one (a slow gap fill, a feed released
          // after its grace period): taking it would stop the pipeline, so it is left out, loudly
          this.lateBars++;
          this.lastError = `market feed: ${bar.symbol} bar ${new Date(bar.time).toISOString()} arrived after a newer bar (${new Date(newest).toISOString()}) and was left out (${this.lateBars} so far): bars are taken in time order`;
          this.version++;
          return;
        }
        newest = bar.time;
        if (bar.time <= historyUntil && !inHistory) {
          inHistory = true;
          haltedForHistory = !this.operatorHalted;
          if (haltedForHistory) void this.enqueue(this.command('halt', 'warm-up on history', bar.time, 'warm-up'));
        } else if (bar.time > historyUntil && inHistory) {
          inHistory = false;
          // the queue is ordered: the resume lands after every history bar
          if (haltedForHistory) void this.enqueue(this.command('resume', 'warm-up done', bar.time, 'warm-up'));
        }
        if (bar.time > historyUntil && this.adoptionPending) {
          this.adoptionPending = false;
          void this.enqueueTask(() => this.takeOverFromExchange());
        }
        void this.enqueue({ type: 'bar', time: bar.time, data: bar });
      },
      error: (error: unknown) => {
        this.lastError = `market feed: ${error instanceof Error ? error.message : String(error)}`;
      },
    });
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
    return this.enqueueTask(() => this.take(entry));
  }

  /** Runs a step in the input queue, after everything received before it. */
  private enqueueTask(task: () => Promise<void>): Promise<void> {
    const run = async () => {
      // after the pipeline's death nothing more is journaled: a replay would act on it
      if (this.failure !== null) return;
      await task();
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** One input, journaled then processed (inside the queue). */
  private async take(entry: JournalEntry): Promise<void> {
    await this.opts.journal.append(entry);
    this.apply(entry);
    this.countInput(entry);
    this.snapshotIfDue(entry.time);
  }

  /** Like enqueue for many inputs, journaled together (one durable write). */
  private enqueueBatch(entries: JournalEntry[]): Promise<void> {
    const run = async () => {
      this.opts.journal.appendManySync(entries);
      for (const e of entries) {
        this.apply(e);
        this.countInput(e);
      }
      this.snapshotIfDue(entries.at(-1)!.time);
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  private countInput(entry: JournalEntry): void {
    if (entry.type !== 'bar' && entry.type !== 'control') return;
    this.inputs++;
    this.inputsSinceSnapshot++;
    if (entry.time > this.lastInputTime) this.lastInputTime = entry.time;
  }

  /** Every JOURNAL_SNAPSHOT_EVERY inputs: a snapshot record, so a restart replays at most that many. */
  private snapshotIfDue(time: number): void {
    if (this.inputsSinceSnapshot < this.opts.settings.JOURNAL_SNAPSHOT_EVERY || this.failure !== null) return;
    const states = this.kernel.snapshot();
    if (states === null) return;
    const engine: EngineState = {
      lastInput: [...this.lastInput],
      externalCount: this.externalCount,
      operatorHalted: this.operatorHalted,
      flattenInFlight: [...this.flattenInFlight],
      projections: this.projections.snapshot(),
      reconciler: this.reconciler?.snapshot() ?? null,
    };
    const record = snapshotRecord(
      this.identity,
      this.inputs,
      this.lastInputTime,
      statesToJson(states),
      statesToJson(engine),
    );
    this.opts.journal.appendSnapshotSync(time, record);
    this.inputsSinceSnapshot = 0;
  }

  private apply(entry: JournalEntry): void {
    this.inApply = true;
    try {
      if (entry.type === 'bar') {
        const bar = entry.data as Bar;
        // a bar older than one already processed for its symbol is a duplicate from a reconnect
        const last = this.lastInput.get(bar.symbol);
        if (last !== undefined && bar.time <= last) return;
        this.lastInput.set(bar.symbol, bar.time);
        this.pushStarted = performance.now();
        this.kernel.push(bar);
      } else if (entry.type === 'control') {
        const event = entry.data as OperatorCommand | CancelOrder | Decision;
        if (event.kind === 'decision' && event.source === 'external') this.externalCount++;
        this.pushStarted = performance.now();
        this.kernel.command(event);
      }
    } finally {
      this.inApply = false;
    }
  }

  private onEvent(e: PipelineEvent): void {
    this.version++;
    this.collecting?.push(e);
    this.projections.observe(e);
    this.reconciler?.observe(e);
    if (e.kind === 'portfolio' && this.verifyAtNextSnapshot && !this.replaying) {
      this.verifyAtNextSnapshot = false;
      // an exchange that does not answer now is a reason to say so, not to crash the process
      this.verifyBook().catch((err: unknown) => {
        this.lastError = `reconciliation: the book could not be compared with the exchange: ${err instanceof Error ? err.message : String(err)}`;
        this.version++;
      });
    } else if (e.kind === 'order') {
      if (e.reason === 'halt-flatten') this.flattenInFlight.set(e.symbol, e.clientOrderId);
      if (!this.replaying) this.opts.onOrderLatency?.((performance.now() - this.pushStarted) / 1000);
    } else if (e.kind === 'order-rejected') {
      if (this.flattenInFlight.get(e.symbol) === e.clientOrderId) this.flattenInFlight.delete(e.symbol);
    } else if (e.kind === 'trade-closed') {
      this.flattenInFlight.delete(e.symbol);
    } else if (e.kind === 'command') {
      if (e.command === 'resume') this.operatorHalted = false;
      else if (e.origin === 'operator') this.operatorHalted = true;
    }
    if (!this.replaying && this.opts.sinks) for (const sink of this.opts.sinks) sink(e);
    if (!this.replaying && !this.inApply) this.retrySnapshot();
  }

  /**
   * A snapshot skipped while an agent ask was pending is tried again once the events it held
   * back come out between inputs — queued, so it runs after their release, never in its middle.
   */
  private retrySnapshot(): void {
    if (this.snapshotRetry || this.inputsSinceSnapshot < this.opts.settings.JOURNAL_SNAPSHOT_EVERY) return;
    this.snapshotRetry = true;
    const run = () => {
      this.snapshotRetry = false;
      // the journal closes with the engine: nothing is written after shutdown
      if (!this.closed) this.snapshotIfDue(this.lastInputTime);
    };
    this.queue = this.queue.then(run, run);
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

  /**
   * An operator's cancel of one working order (DELETE /orders/:clientOrderId): journaled as a
   * control input, then handed by the execution stage to the venue, which withdraws the order if
   * it has not filled (an order-rejected event, reason `cancelled by the operator`). Returns the
   * events produced while it was processed.
   */
  async cancelOrder(symbol: string, clientOrderId: string, reason = 'operator cancel'): Promise<PipelineEvent[]> {
    this.assertAlive();
    const time = this.lastBarTime;
    const event: CancelOrder = { kind: 'cancel-order', time, symbol, clientOrderId, origin: 'operator', reason };
    return this.collect({ type: 'control', time, data: event });
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
   * what each stage did with it (only its own events, whatever else was processed meanwhile).
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
    return decisionOutcome(events, decision);
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
    this.kernel.stop();
  }
}
