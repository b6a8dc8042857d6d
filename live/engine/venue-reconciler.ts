import type { Order, PipelineEvent, PositionView } from '../../pipelines/model/index.ts';
import type { JournalEntry, VenueEvent } from '../../pipelines/ports.ts';
import type { VenueTape } from './taped-execution.ts';
import type { ExchangeHoldings } from './adoption.ts';

/** A real venue as the engine needs it at start (live mode). */
export interface VenuePort {
  /**
   * Orders sent before the restart that had no final outcome: the exchange tells what became of
   * them, and which fills the journal lacks (`journaled`: the quantity it holds per client order
   * id and its newest fill's time; see live/aster/restart-catch-up.ts).
   */
  reconcile(open: readonly { order: Order; filled: number }[], journaled: JournaledFills): Promise<VenueEvent[]>;
  /** the book after reconciliation vs the exchange's positions: a description of any mismatch */
  verify(positions: readonly PositionView[]): Promise<string | null>;
  /**
   * Orders of an earlier life still working at the exchange (a position's stop and take-profit):
   * the execution port follows them as its own from now on (see AsterExecutionPort.adopt).
   */
  adoptWorking(orders: readonly Order[]): void;
  /** the exchange's positions and working orders on the traded symbols (a start from the exchange) */
  holdings(): Promise<ExchangeHoldings>;
  /** withdraws one working order; resolves once the exchange has answered, rejects when it refused */
  cancel(order: { symbol: string; clientOrderId: string }): Promise<void>;
}

/** what the journal holds of fills: quantity per client order id and the newest fill's time */
export interface JournaledFills {
  readonly filled: ReadonlyMap<string, number>;
  readonly lastFillTime: number;
}

interface SentOrder {
  order: Order;
  filled: number;
  done: boolean;
}

/** What the reconciler needs from the engine: the journal, the replay state and where errors go. */
export interface ReconcilerHost {
  journalSync(entry: JournalEntry): void;
  replaying(): boolean;
  inInput(): boolean;
  report(error: string): void;
}

/** client order ids kept in a snapshot besides those of orders in flight (ids are per bar minute) */
const KEEP_RECORDED_IDS = 2000;

/**
 * The venue's side of a live engine: it tapes orders and venue events into the journal (see
 * taped-execution.ts), knows which orders went out and what came back, and after a restart asks
 * the exchange what became of the ones in flight, then compares the book with the exchange's
 * positions before anything new is sent.
 */
export class VenueReconciler {
  private readonly recordedOrderIds = new Set<string>();
  private readonly sentOrders = new Map<string, SentOrder>();
  private readonly producedInReplay: Order[] = [];
  private pendingInInput: VenueEvent[] = [];
  /** every fill replayed or taken, for the start's catch-up of fills the journal lacks */
  private readonly journaledFills = { filled: new Map<string, number>(), lastFillTime: -Infinity };
  private venueEmit: ((e: VenueEvent) => void) | null = null;
  private adoptedSeen = false;

  constructor(
    readonly venue: VenuePort,
    private readonly host: ReconcilerHost,
  ) {}

  tape(): VenueTape {
    return {
      replaying: () => this.host.replaying(),
      inInput: () => this.host.inInput(),
      admit: (o) => {
        if (!this.recordedOrderIds.has(o.clientOrderId)) return true;
        // the journal says this id went out already: sending it again could fill twice
        this.host.report(
          `order ${o.clientOrderId} (${o.symbol}) not sent: its client order id is already in the journal`,
        );
        return false;
      },
      recordOrder: (o) => {
        this.host.journalSync({ type: 'order', time: o.time, data: o });
        this.noteSent(o);
      },
      recordEvent: (e, phase) => this.host.journalSync({ type: 'venue', time: e.time, data: { phase, event: e } }),
      takeInInput: () => this.pendingInInput.splice(0),
      setEmitter: (emit) => {
        this.venueEmit = emit;
      },
      // judged after the replay: its order entry comes after the input that produced it
      onOrderDuringReplay: (o) => this.producedInReplay.push(o),
    };
  }

  /**
   * An order the journal says was sent: taken at its place in the journal (live: when recorded;
   * replay: when its entry is met, after the input that produced it). Noted all before the replay,
   * the replace rule below would mark later stops done when an earlier one is replayed.
   */
  noteSent(o: Order): void {
    this.recordedOrderIds.add(o.clientOrderId);
    this.sentOrders.set(o.clientOrderId, { order: o, filled: 0, done: false });
  }

  /** Replay: the venue events recorded while the next input was processed go back in with it. */
  queueInInput(event: VenueEvent): void {
    this.pendingInInput.push(event);
  }

  clearInInput(): void {
    this.pendingInInput.length = 0;
  }

  /** Replay: a venue event recorded between two inputs goes back in at the same place. */
  emitRecorded(event: VenueEvent): void {
    this.venueEmit?.(event);
  }

  /**
   * The journal holds venue history of its own: an order sent, a fill or a position taken over
   * (a start from the exchange only takes over where there is none).
   */
  hasHistory(): boolean {
    return this.adoptedSeen || this.recordedOrderIds.size > 0 || this.journaledFills.filled.size > 0;
  }

  /** Follows what became of each sent order. */
  observe(e: PipelineEvent): void {
    if (e.kind === 'position-adopted') this.adoptedSeen = true;
    else if (e.kind === 'order' && e.type !== 'MARKET') {
      // a new stop / take-profit generation replaces the previous one at the venue
      for (const s of this.sentOrders.values())
        if (s.order.symbol === e.symbol && s.order.type === e.type && s.order.clientOrderId !== e.clientOrderId)
          s.done = true;
    } else if (e.kind === 'fill') {
      const { filled } = this.journaledFills;
      filled.set(e.clientOrderId, (filled.get(e.clientOrderId) ?? 0) + e.quantity);
      this.journaledFills.lastFillTime = Math.max(this.journaledFills.lastFillTime, e.time);
      const sent = this.sentOrders.get(e.clientOrderId);
      if (!sent) return;
      sent.filled += e.quantity;
      // a MARKET order is done when filled; a stop/take-profit closes the position in one go
      if (sent.order.quantity === 0 || sent.filled >= sent.order.quantity - 1e-12) sent.done = true;
    } else if (e.kind === 'order-rejected') {
      const sent = this.sentOrders.get(e.clientOrderId);
      if (sent) sent.done = true;
    } else if (e.kind === 'trade-closed') {
      for (const s of this.sentOrders.values())
        if (s.order.symbol === e.symbol && s.order.type !== 'MARKET') s.done = true;
    }
  }

  /**
   * After a replay: the exchange says what became of orders in flight at the crash (each outcome
   * journaled and put in), orders the replay produced but the recorded run never sent are
   * rejected. Returns whether any outcome came in (the book then shows it at the next snapshot).
   */
  async reconcile(time: number): Promise<boolean> {
    const open = [...this.sentOrders.values()]
      .filter((s) => !s.done)
      .map((s) => ({ order: s.order, filled: s.filled }));
    const outcomes = await this.venue.reconcile(open, this.journaledFills);
    for (const e of outcomes) this.between(e);
    // produced by the replay but never recorded as sent: the recorded run never sent them (its
    // pipeline had not got that far, e.g. a decision waiting for an agent). A replay must not
    // send anything, so they are rejected; the strategy decides again on live bars.
    const unsent = this.producedInReplay.splice(0).filter((o) => !this.recordedOrderIds.has(o.clientOrderId));
    for (const o of unsent) {
      this.between({
        kind: 'order-rejected',
        time,
        symbol: o.symbol,
        clientOrderId: o.clientOrderId,
        reason: 'not sent: produced while replaying the journal, never sent by the recorded run',
      });
    }
    return outcomes.length > 0;
  }

  /** Orders sent and not done (working at the exchange, as far as the journal and the lookups know), oldest first. */
  working(): Order[] {
    return [...this.sentOrders.values()]
      .filter((s) => !s.done)
      .map((s) => s.order)
      .sort((a, b) => a.time - b.time);
  }

  /** A venue event that arrived between inputs: journaled, then put into the pipeline. */
  between(e: VenueEvent): void {
    this.host.journalSync({ type: 'venue', time: e.time, data: { phase: 'between', event: e } });
    this.venueEmit?.(e);
  }

  snapshot(): unknown {
    const inFlight = [...this.sentOrders.values()].filter((s) => !s.done);
    const ids = [...this.recordedOrderIds].slice(-KEEP_RECORDED_IDS);
    // fills of the orders still remembered, so a restart's catch-up does not count them again
    const kept = new Set(ids);
    const fills = [...this.journaledFills.filled].filter(([id]) => kept.has(id));
    return { inFlight, ids, fills, lastFillTime: this.journaledFills.lastFillTime };
  }

  restore(state: unknown): void {
    const st = state as {
      inFlight: SentOrder[];
      ids: string[];
      fills?: [string, number][];
      lastFillTime?: number | null;
    };
    for (const id of st.ids) this.recordedOrderIds.add(id);
    for (const [id, qty] of st.fills ?? []) this.journaledFills.filled.set(id, qty);
    if (typeof st.lastFillTime === 'number') this.journaledFills.lastFillTime = st.lastFillTime;
    for (const s of st.inFlight) {
      this.recordedOrderIds.add(s.order.clientOrderId);
      this.sentOrders.set(s.order.clientOrderId, { ...s });
    }
  }
}
