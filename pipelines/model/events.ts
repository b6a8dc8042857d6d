import type { Bar } from './market.ts';
import type {
  AllocatedDecision,
  Decision,
  FeatureBar,
  Fill,
  FundingPayment,
  Order,
  OrderIntent,
  OrderRejected,
  PortfolioSnapshot,
  ProtectIntent,
  Signal,
  TradeClosed,
} from './trading.ts';

export type TradingState = 'ACTIVE' | 'REDUCING' | 'HALTED';

/** A stage refused to act on a decision or intent. Never a silent drop. */
export interface Denied {
  readonly kind: 'denied';
  readonly time: number;
  readonly symbol: string;
  /** stage that denied: allocation | sizing | risk | consensus */
  readonly stage: string;
  /** machine-readable rule, e.g. max-concurrent-positions */
  readonly rule: string;
  /** what the rule measured and the limit it broke (NaN when not numeric) */
  readonly value: number;
  readonly limit: number;
  /** a human explanation */
  readonly detail: string;
  readonly decisionSeq: number;
}

export interface RiskStateChanged {
  readonly kind: 'risk-state';
  readonly time: number;
  readonly from: TradingState;
  readonly to: TradingState;
  readonly reason: string;
}

/**
 * An operator's instruction to the running pipeline (admin API, Telegram, orchestrator):
 * `halt` refuses new entries (exits and stops still run), `resume` lifts an operator halt,
 * `emergency-stop` halts AND flattens every position with reduce-only market orders.
 * It travels the pipeline like any event, so a journal replays it at the same place.
 */
export interface OperatorCommand {
  readonly kind: 'command';
  readonly time: number;
  readonly command: 'halt' | 'resume' | 'emergency-stop';
  /** an operator (API, Telegram, a failed reconciliation) or the runner itself while it warms up */
  readonly origin: 'operator' | 'warm-up';
  readonly reason: string;
}

/**
 * An operator's request to withdraw one working order (DELETE /orders/:clientOrderId). It joins
 * the pipeline with the other control events (journaled first, so a restart replays it at the same
 * place); the execution stage hands it to the venue, which withdraws the order if it has not filled
 * yet and says so with an `order-rejected` event (reason `cancelled by the operator`). An order
 * already filled or gone is left as it is: the request then changes nothing.
 */
export interface CancelOrder {
  readonly kind: 'cancel-order';
  readonly time: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly origin: 'operator';
  readonly reason: string;
}

/** The reason a venue gives when it withdraws an order on a CancelOrder. */
export const CANCELLED_BY_OPERATOR = 'cancelled by the operator';

/**
 * A position found at the exchange when a live service starts from the exchange
 * (START_FROM_EXCHANGE with no history of its own): the portfolio books it at the exchange's entry
 * price, and the stops protect it from then on as if the bot had opened it. It comes from the
 * venue, between inputs, and is journaled like a fill, so a replay books it at the same place.
 */
export interface PositionAdopted {
  readonly kind: 'position-adopted';
  readonly time: number;
  readonly symbol: string;
  readonly side: 'LONG' | 'SHORT';
  /** unsigned */
  readonly quantity: number;
  readonly entryPrice: number;
  /** the working stop found for it at the exchange (0: none; the stops set their own) */
  readonly stopPrice: number;
  /** the working take-profit found for it (0: none) */
  readonly takeProfitPrice: number;
  /** the decision sequence its protective orders are numbered under (client order ids) */
  readonly seq: number;
}

/** An agent call failed or was rejected; the decision went on without it. */
export interface AgentFault {
  readonly kind: 'agent-fault';
  readonly time: number;
  readonly symbol: string;
  readonly agent: string;
  readonly fault: string;
  readonly detail: string;
}

export type PipelineEvent =
  | Bar
  | FeatureBar
  | Signal
  | Decision
  | AllocatedDecision
  | OrderIntent
  | ProtectIntent
  | Order
  | Fill
  | OrderRejected
  | FundingPayment
  | PortfolioSnapshot
  | TradeClosed
  | Denied
  | RiskStateChanged
  | OperatorCommand
  | CancelOrder
  | AgentFault
  | PositionAdopted;

export type PipelineEventKind = PipelineEvent['kind'];
