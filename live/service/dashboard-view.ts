/**
 * The contract between the service (`live/service/`) and the dashboard page (`dashboard/public/`).
 *
 * - `GET /dashboard` returns one `DashboardView` (JSON). The page loads it once, then again
 *   after a reconnect and every time a `status` event arrives; it never polls on a timer.
 * - `GET /events` is a server-sent-event stream. Each message is
 *   `event: <DashboardEventName>\ndata: <JSON of DashboardEvents[name]>\n\n`. The page updates
 *   itself from these events between loads.
 *
 * Conventions: times are epoch milliseconds (UTC); money is in quote currency (USDT);
 * fractions are 0..1 (drawdown, exposure share, win rate) unless the name ends in `Pct`.
 * Every field is plain JSON (no NaN/Infinity: send `null` for "does not exist").
 * No secret is ever part of a view or an event.
 */

import type { AgentHealth } from '../../operators/agents/agent-health.ts';

export type RiskState = 'ACTIVE' | 'REDUCING' | 'HALTED';

export interface PortfolioView {
  /** wallet balance: initial + realised − fees − funding */
  balance: number;
  /** balance + unrealised PnL */
  equity: number;
  /** Σ |notional| of open positions at mark */
  exposure: number;
  /** exposure / equity */
  leverage: number;
  /** current drawdown from the equity peak, 0..1 */
  drawdown: number;
  /** the drawdown at which risk halts trading (MAX_DRAWDOWN setting), 0..1 */
  maxDrawdownLimit: number;
}

export interface EquityPointView {
  time: number;
  equity: number;
}

export interface PositionRow {
  symbol: string;
  side: 'LONG' | 'SHORT';
  /** absolute quantity in base units */
  quantity: number;
  entryPrice: number;
  markPrice: number;
  unrealizedPnl: number;
  /** null when no stop is working */
  stopPrice: number | null;
  takeProfitPrice: number | null;
  /** optional: why it was opened, in words (the entry decision: source, confidence, gates, thesis) */
  reason?: string | null;
}

export interface TradeRow {
  /** close time */
  time: number;
  symbol: string;
  side: 'LONG' | 'SHORT';
  quantity: number;
  entryPrice: number;
  exitPrice: number;
  openedAt: number;
  netPnl: number;
  /** fraction of entry notional */
  returnPct: number;
  /** signal | stop | trailing-stop | take-profit | delever | halt-flatten | end-of-data | liquidation … */
  exitReason: string;
  /** optional: why it was opened, in words (as PositionRow.reason) */
  entryReason?: string | null;
}

export interface CandleView {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/** An entry or exit to mark on a price chart. */
export interface MarkerView {
  time: number;
  kind: 'entry' | 'exit';
  side: 'LONG' | 'SHORT';
  price: number;
  /** short label: "Long 0.01", "stop", "+12.3" … */
  text?: string;
}

export interface SymbolPrices {
  symbol: string;
  /** recent bars, oldest first, unique ascending times */
  candles: CandleView[];
  markers: MarkerView[];
}

export interface GateView {
  gate: string;
  passed: boolean;
  value: number | null;
  limit: number | null;
}

export interface AgentView {
  name: string;
  /** e.g. ok | degraded | disabled | error */
  status: string;
  /** the agent's last thesis/summary, null before its first reply */
  lastThesis: string | null;
  lastGates: GateView[];
  /** 0..1; null before any scored decision */
  winRate: number | null;
}

export interface DenialView {
  time: number;
  symbol: string;
  stage: string;
  rule: string;
  detail: string;
}

/** Something that keeps new entries out right now, and until when (market time). */
export interface LockView {
  kind: 'stoploss-guard' | 'cooldown' | 'entry-in-flight' | 'operator-halt' | 'drawdown-halt';
  /** null: every symbol */
  symbol: string | null;
  /** market time from which entries are allowed again; null: until something happens */
  until: number | null;
  detail: string;
}

/** One bandit arm (symbol × signal source). */
export interface ArmView {
  /** "BTCUSDT:momentum" */
  arm: string;
  /** windowed mean of the clipped trade returns; null before its first trade */
  meanReturn: number | null;
  /** closed trades recorded on the arm */
  pulls: number;
  /** enough trades (BANDIT_MIN_TRADES) for its mean to be judged */
  judged: boolean;
  /** odds (0..1) that its next signal episode is funded: 1, or BANDIT_EPSILON for a losing arm */
  fundedOdds: number;
  allocation: 'funded' | 'probe-only';
  /** share of the normal size a funded entry gets (BANDIT_PROBE_SHARE for a probe) */
  share: number;
}

export interface RiskView {
  state: RiskState;
  /** the real situation in words: "ENTRIES LOCKED — stop-loss guard until …" when a lock is in force */
  headline: string;
  /** entries can be opened on at least one symbol now */
  entriesOpen: boolean;
  locks: LockView[];
  arms: ArmView[];
  recentDenials: DenialView[];
}

export interface SymbolPerformance {
  /** the symbol (or, in perStrategy, the signal source) */
  symbol: string;
  trades: number;
  netPnl: number;
  /** 0..1, null without trades */
  winRate: number | null;
  /** gross wins / gross losses; null without a loss */
  profitFactor: number | null;
}

/** One strategy's part of the kept trades (several strategies run: STRATEGIES=momentum,breakout). */
export interface StrategyPerformance extends SymbolPerformance {
  /** its share of the entry notional of the kept trades, 0..1 (null without trades) */
  capitalShare: number | null;
  /** the bandit's share of the normal size its arms get now, mean over its arms, 0..1 (null: no arm yet) */
  allocation: number | null;
}

/** One strategy's allocation over time (PerformanceView.allocationOverTime). */
export interface AllocationSeries {
  strategy: string;
  /** oldest first, unique ascending times; share 0..1 */
  points: { time: number; share: number }[];
}

export interface PerformanceView {
  /** realised PnL since the start (the books, every trade) */
  realizedPnl: number;
  /** over the kept trades (the most recent ones) */
  trades: number;
  netPnl: number;
  winRate: number | null;
  profitFactor: number | null;
  perSymbol: SymbolPerformance[];
  perStrategy: StrategyPerformance[];
  /**
   * each strategy's allocation over time, as the bandit gave it: per point (market time) the mean
   * over its arms of the share of the normal size their last entry decision got (0 when denied);
   * a step line — a value holds until the next point. Bounded (the last 500 changes); the last
   * point repeats the current value at the last bar's time. Empty before any entry decision.
   */
  allocationOverTime?: AllocationSeries[];
  /** net PnL of the trades closed in each UTC day / ISO week (Monday), market time */
  daily: { time: number; netPnl: number }[];
  weekly: { time: number; netPnl: number }[];
}

/** A working order: an entry or exit not filled yet, or a protective stop / take-profit. */
export interface OpenOrderView {
  symbol: string;
  /** MARKET | STOP_MARKET | TAKE_PROFIT_MARKET */
  type: string;
  side: 'BUY' | 'SELL';
  /** 0 for protective orders: they close the whole position */
  quantity: number;
  /** trigger price of a protective order, null for market orders */
  stopPrice: number | null;
  reason: string;
  /** market time it was placed; null when only its price is known (after a restart) */
  time: number | null;
  clientOrderId: string | null;
  /** DELETE /orders/:clientOrderId would be accepted for it */
  cancellable: boolean;
  /** why it cannot be cancelled (null when it can) */
  notCancellable: string | null;
}

/** One operator action, as the service recorded it. */
export interface AuditLine {
  /** wall-clock time of the request */
  wallTime: number;
  /** "POST /stop" */
  action: string;
  status: number;
  /** the remote address */
  from: string;
  /** what came of it, in words */
  outcome: string;
}

/** The settings in force and the service's identity; never a secret. */
export interface ConfigView {
  version: string;
  /** git commit of the running code, '' when unknown */
  commit: string;
  /** wall-clock start time */
  startedAt: number;
  uptimeS: number;
  symbols: string[];
  interval: string;
  strategies: string[];
  agentsEnabled: boolean;
  sizing: string;
  leverage: number;
  limits: { name: string; value: string }[];
  /** where bars come from: "embedded simulator (data/sample/perp-5m)" or the exchange URL */
  dataSource: string;
  /** the embedded simulator replays a sample: shown as a badge */
  replay: { sample: string; msPerBar: number } | null;
  /** ADMIN_API_TOKEN is set: the controls work */
  adminConfigured: boolean;
}

/** /healthz figures the page shows. */
export interface HealthView {
  lastError: string | null;
  /** market time of the last bar processed, null before the first */
  lastBarTime: number | null;
}

export interface SystemView {
  running: boolean;
  /** paper | live | backtest … */
  mode: string;
  /** e.g. connected | disconnected | simulated */
  exchange: string;
  /** e.g. connected | in-memory | error */
  redis: string;
  models: { name: string; status: string }[];
  /** agent availability, faults by kind and share of decisions without each (null: agents off) */
  agents?: AgentHealth | null;
}

export interface AnalyticsView {
  /** '' = analytics off: the page shows no banner and loads nothing */
  provider: 'ga4' | 'plausible' | '';
  /** GA4 measurement id (G-XXXX) */
  id: string;
  /** Plausible site domain */
  domain: string;
}

export interface DashboardView {
  /** server time of the snapshot */
  time: number;
  portfolio: PortfolioView;
  equityCurve: EquityPointView[];
  positions: PositionRow[];
  /** recent closed trades, newest first */
  trades: TradeRow[];
  prices: SymbolPrices[];
  agents: AgentView[];
  risk: RiskView;
  system: SystemView;
  /** names of HTML reports served under /reports/:name */
  reports: string[];
  analytics: AnalyticsView;
  performance: PerformanceView;
  openOrders: OpenOrderView[];
  config: ConfigView;
  health: HealthView;
  /** recent operator actions, newest first */
  audit: AuditLine[];
}

/** A decision, as the feed shows it. */
export interface DecisionEventData {
  time: number;
  symbol: string;
  /** the Decision action: enter-long | enter-short | exit */
  action: string;
  confidence: number;
  price: number;
  source: string;
  gates: GateView[];
}

/** Why: an agent's or the strategy's explanation. */
export interface ReasoningEventData {
  time: number;
  symbol: string;
  agent: string;
  text: string;
}

export interface FillEventData {
  time: number;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: number;
  price: number;
  fee: number;
  reason: string;
}

export interface RiskEventData {
  time: number;
  state: RiskState;
  /** present when a decision was denied */
  denial?: DenialView;
  /** present on a state change */
  reason?: string;
}

/** A working order ended without a fill: withdrawn on an operator's cancel, or refused by the venue. */
export interface OrderEventData {
  time: number;
  symbol: string;
  clientOrderId: string;
  outcome: 'cancelled' | 'rejected';
  reason: string;
}

/** Server-sent events on GET /events: event name → data payload. */
export interface DashboardEvents {
  decision: DecisionEventData;
  reasoning: ReasoningEventData;
  fill: FillEventData;
  trade: TradeRow;
  /** the new portfolio figures plus the equity point to append to the curve */
  portfolio: PortfolioView & { time: number; positions?: PositionRow[] };
  risk: RiskEventData;
  status: SystemView;
  order: OrderEventData;
}

export type DashboardEventName = keyof DashboardEvents;

export const DASHBOARD_EVENT_NAMES: readonly DashboardEventName[] = [
  'decision',
  'reasoning',
  'fill',
  'trade',
  'portfolio',
  'risk',
  'status',
  'order',
];

/** Formats one server-sent event (for the service and for test peers). */
export function formatSse<K extends DashboardEventName>(event: K, data: DashboardEvents[K]): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
