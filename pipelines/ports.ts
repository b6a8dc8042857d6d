import type { Observable, OperatorFunction } from 'rxjs';
import type {
  AgentOpinion,
  Bar,
  CancelOrder,
  Fill,
  FundingPayment,
  Order,
  OrderRejected,
  PositionAdopted,
} from './model/index.ts';

/** Closed bars of every configured symbol, merged in time order (ties: symbol order). */
export interface MarketDataPort {
  bars(): Observable<Bar>;
}

export type VenueEvent = Fill | OrderRejected | FundingPayment | PositionAdopted;

/** What the pipeline sends a venue: a new order, or an operator's request to withdraw one. */
export type VenueRequest = Order | CancelOrder;

/**
 * Where orders go and fills come from. `attach` receives the stream of orders the pipeline
 * emits and returns an operator placed right after the market source: it passes every bar on
 * and interleaves the venue's own events (fills, rejections, funding) in the order they happen.
 * The simulated venue fills an order at the first bar of its symbol after the decision (never
 * the bar that produced it); the live venue sends it over REST and merges user-data fills.
 * A `cancel-order` request on the same stream withdraws a working order: the venue answers with
 * an `order-rejected` event (reason CANCELLED_BY_OPERATOR) once it is withdrawn, and with nothing
 * when the order had filled or gone already.
 */
export interface ExecutionPort {
  attach(orders: Observable<VenueRequest>, state?: VenueStateHooks): OperatorFunction<Bar, Bar | VenueEvent>;
}

/**
 * A venue that keeps its own state in the process (the simulated one: books, resting orders, the
 * account) puts it into a journal snapshot beside the stages' and takes it back on a restart. A
 * real exchange keeps its state itself and ignores both.
 */
export interface VenueStateHooks {
  /** the state a snapshot took, put back before the first bar */
  readonly restore?: unknown;
  /** called once per subscription with a function returning the state now (JSON data) */
  readonly onOpen?: (snapshot: () => unknown) => void;
}

/**
 * The one clock and timer abstraction of the code around the pipeline (live adapters, the agents'
 * gateway, Telegram, the service, the simulator): wall time and timers are injected as `ClockPort`
 * and `Timers`, tests pass controlled ones, production the real ones of runtime/timers.ts. The
 * pipeline itself has neither: operators take time from events (lint).
 */
export interface ClockPort {
  now(): number;
}

/** Timers as the code around the pipeline schedules them (see `ClockPort`). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What an agent is shown: only data up to and including the decision bar. */
export interface AgentContext {
  readonly symbol: string;
  readonly time: number;
  readonly price: number;
  readonly change24h: number;
  readonly volume: number;
  readonly atr: number;
  readonly volatility: number;
  /** recent closes, oldest first, the last one being the decision bar's close */
  readonly closes: readonly number[];
  /** signed quantity currently held */
  readonly position: number;
  /** the strategy's view the agent is asked to confirm or refute */
  readonly proposedDirection: -1 | 0 | 1;
  /** the strategy that proposed it (the signal's source): part of an agent call's identity and tape key */
  readonly strategy: string;
}

/** An agent (thesis writer, forecaster); remote or embedded. Failures are rejected promises. */
export interface AgentPort {
  readonly name: string;
  opinion(context: AgentContext): Promise<AgentOpinion> | AgentOpinion;
}

export interface JournalEntry {
  readonly type: string;
  readonly time: number;
  readonly data: unknown;
}

/** Append-only, durable record of decisions, orders and fills for restart safety. */
export interface JournalPort {
  append(entry: JournalEntry): Promise<void>;
  replay(): AsyncIterable<JournalEntry>;
}
