import type { Bar } from './market.ts';

export type Side = 'BUY' | 'SELL';

/** A shared empty list for events that have nothing to list (no allocation per event). */
export const NONE: readonly never[] = Object.freeze([]);
/** +1 long, −1 short, 0 flat */
export type Direction = -1 | 0 | 1;

/** Features computed from bars up to and including `bar` (never later). */
export interface FeatureBar {
  readonly kind: 'features';
  readonly time: number;
  readonly symbol: string;
  readonly bar: Bar;
  /** Wilder ATR in price units */
  readonly atr: number;
  /** simple return over MOMENTUM_LOOKBACK_BARS, as a fraction */
  readonly lookbackReturn: number;
  /** annualised realised volatility of log returns over VOLATILITY_WINDOW_BARS */
  readonly volatility: number;
  /** simple return over the last 24 h of bars, as a fraction */
  readonly change24h: number;
}

/** An agent's view on a symbol at a bar (thesis or forecast), as consensus consumes it. */
export interface AgentOpinion {
  readonly agent: string;
  /** desired direction, 0 = no view */
  readonly direction: Direction;
  readonly confidence: number;
  /** 0..1, higher = riskier (thesis agents); forecast agents report their anomaly score here */
  readonly riskScore: number;
  /** did the agent's own gate accept its reply (risk score, CI span, anomaly)? */
  readonly accepted: boolean;
  /** blocks NEW entries on the symbol (e.g. a forecast anomaly) */
  readonly blocksEntry: boolean;
  readonly summary: string;
}

/** A directional signal from one source for one symbol at one bar. */
export interface Signal {
  readonly kind: 'signal';
  readonly time: number;
  readonly symbol: string;
  /** the strategy that produced it (its name) */
  readonly source: string;
  readonly direction: Direction;
  /** how strongly the strategy holds its view, normalised to 0..1 (consensus's confidence alone) */
  readonly strength: number;
  readonly price: number;
  readonly features: FeatureBar;
  /** filled by the agents stage; empty when no agents run */
  readonly opinions: readonly AgentOpinion[];
}

export type DecisionAction = 'enter-long' | 'enter-short' | 'exit';

/** One check in a decision's reasoning record, with the numbers behind it. */
export interface GateOutcome {
  readonly gate: string;
  readonly passed: boolean;
  /** the measured value (strength ratio, confidence, risk score …) */
  readonly value: number;
  /** the limit it was held against */
  readonly limit: number;
}

/** What the strategy wants for a symbol, with the reasoning behind it. */
export interface Decision {
  readonly kind: 'decision';
  readonly time: number;
  readonly symbol: string;
  /** per-symbol decision sequence: with BOT_ID it makes the client order id */
  readonly seq: number;
  readonly action: DecisionAction;
  readonly confidence: number;
  /** which signal source produced it (the bandit's arm is symbol × source) */
  readonly source: string;
  readonly price: number;
  readonly features: FeatureBar;
  readonly gates: readonly GateOutcome[];
  readonly opinions: readonly AgentOpinion[];
}

/** A decision after the bandit: the share of the normal size this arm gets. */
export interface AllocatedDecision {
  readonly kind: 'allocated';
  readonly time: number;
  readonly decision: Decision;
  readonly arm: string;
  /** 0..1 multiplier on the sizing budget */
  readonly share: number;
  readonly explored: boolean;
  /**
   * the signal episode drew an exploration (draw < BANDIT_EPSILON), whatever the arm's record:
   * sizing may then place an entry it would otherwise refuse (Kelly without an edge) as a probe
   */
  readonly mayExplore?: boolean;
}

export type IntentReason = 'entry' | 'exit' | 'delever' | 'halt-flatten';

/** A sized order wish, before risk and execution. */
export interface OrderIntent {
  readonly kind: 'intent';
  readonly time: number;
  readonly symbol: string;
  /** the client order id: unique per intent, stable across retries and restarts */
  readonly clientOrderId: string;
  readonly decisionSeq: number;
  readonly side: Side;
  readonly quantity: number;
  readonly reduceOnly: boolean;
  readonly reason: IntentReason;
  /** price the decision was made at (bar close): the slippage guard's reference */
  readonly refPrice: number;
  /** the initial stop distance (price units) the size was computed for, 0 for exits */
  readonly stopDistance: number;
  /** an entry the bandit funded as an exploration (a probe of a losing arm) */
  readonly explored?: boolean;
}

/** Protective exit orders for an open position (stop and take-profit), replacing earlier ones. */
export interface ProtectIntent {
  readonly kind: 'protect';
  readonly time: number;
  readonly symbol: string;
  /** the position side being protected: the protective orders are on the other side */
  readonly positionSide: 'LONG' | 'SHORT';
  readonly stopPrice: number;
  /** NaN-free: 0 means no take-profit */
  readonly takeProfitPrice: number;
  /** 'initial' on entry, 'trail' when the trailing stop ratchets */
  readonly cause: 'initial' | 'trail';
  /** the entry decision this protects, and how many times its stop has moved (for unique ids) */
  readonly decisionSeq: number;
  readonly generation: number;
}

export type OrderType = 'MARKET' | 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';

/**
 * Why an order exists; fills carry it on, and exits map it to an ExitReason. 'liquidation': the
 * venue closed the position because margin fell to maintenance (client id `autoclose-…`);
 * 'end-of-data': the backtest venue settling a position at the last close of its data
 * (backtests/end-of-data.ts).
 */
export type OrderReason = IntentReason | 'stop' | 'trailing-stop' | 'take-profit' | 'liquidation' | 'end-of-data';

/** An order as sent to a venue. */
export interface Order {
  readonly kind: 'order';
  readonly time: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly type: OrderType;
  /** quantity for MARKET; protective orders close the whole position (closePosition) and carry 0 */
  readonly quantity: number;
  readonly reduceOnly: boolean;
  readonly stopPrice: number;
  readonly refPrice: number;
  /** worst acceptable fill vs refPrice in bps (slippage guard); 0 = no limit */
  readonly maxSlippageBps: number;
  readonly reason: OrderReason;
  /** carried from the entry intent: a bandit exploration */
  readonly explored?: boolean;
}

export type ExitReason =
  'signal' | 'stop' | 'trailing-stop' | 'take-profit' | 'delever' | 'halt-flatten' | 'end-of-data' | 'liquidation';

export interface Fill {
  readonly kind: 'fill';
  readonly time: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly quantity: number;
  readonly price: number;
  /** fee paid in quote currency (positive = paid) */
  readonly fee: number;
  readonly liquidity: 'maker' | 'taker';
  readonly reason: OrderReason;
  /** carried from the order: an entry the bandit funded as an exploration */
  readonly explored?: boolean;
}

/** A venue refused or cancelled an order (filters, slippage guard, reduce-only with no position …). */
export interface OrderRejected {
  readonly kind: 'order-rejected';
  readonly time: number;
  readonly symbol: string;
  readonly clientOrderId: string;
  readonly reason: string;
}

/** Funding settled on an open position (positive = paid by us). */
export interface FundingPayment {
  readonly kind: 'funding';
  readonly time: number;
  readonly symbol: string;
  readonly rate: number;
  readonly positionQty: number;
  readonly markPrice: number;
  readonly amount: number;
}

export interface PositionView {
  readonly symbol: string;
  /** signed: > 0 long, < 0 short */
  readonly quantity: number;
  readonly entryPrice: number;
  readonly markPrice: number;
  readonly unrealizedPnl: number;
  readonly openedAt: number;
}

export interface PortfolioSnapshot {
  readonly kind: 'portfolio';
  readonly time: number;
  /** wallet balance: initial + realised − fees − funding */
  readonly balance: number;
  /** balance + unrealised PnL */
  readonly equity: number;
  readonly peakEquity: number;
  /** 1 − equity / peak */
  readonly drawdown: number;
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly feesPaid: number;
  readonly fundingPaid: number;
  /** Σ |notional| at mark */
  readonly grossExposure: number;
  /** initial margin used at the configured leverage */
  readonly marginUsed: number;
  /** maintenance margin of the positions at mark, from the leverage brackets (pipelines/margin) */
  readonly maintenanceMargin: number;
  /** immutable; replaced only when positions change */
  readonly positions: readonly PositionView[];
}

/** A position went back to flat (or flipped): one round trip. */
export interface TradeClosed {
  readonly kind: 'trade-closed';
  readonly time: number;
  readonly symbol: string;
  readonly side: 'LONG' | 'SHORT';
  readonly quantity: number;
  readonly entryPrice: number;
  readonly exitPrice: number;
  readonly openedAt: number;
  /** gross of fees and funding */
  readonly pnl: number;
  readonly fees: number;
  readonly funding: number;
  /** pnl − fees − funding */
  readonly netPnl: number;
  /** netPnl / entry notional */
  readonly returnPct: number;
  readonly exitReason: ExitReason;
  /**
   * the position was opened by a bandit exploration (a probe of a losing arm), not funded on its
   * merits; the report shows these apart. Absent when the venue does not carry the flag.
   */
  readonly explored?: boolean;
}
