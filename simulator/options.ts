import type { BarColumns, FundingRate, SymbolFilters } from '../pipelines/model/index.ts';
import type { ClockPort, Timers } from '../pipelines/ports.ts';
import type { LiquiditySettings } from '../pipelines/liquidity/liquidity.settings.ts';
import type { BracketTable } from '../pipelines/margin/margin.kernel.ts';
import type { V1Credential, V3Credential } from './auth.ts';
import type { FaultCounters, FaultKind, FaultOptions, FaultPlan } from './faults.ts';
import type { Position, SimFill, SimOrder } from './matching.kernel.ts';

export interface SimulatorOptions {
  series: BarColumns[];
  host?: string;
  port?: number;
  /** market bar period, e.g. 300000 (default: the first series' interval) */
  barIntervalMs?: number;
  /** wall ms per replayed bar; 0 = only `advance()` moves the market */
  replayMs: number;
  /** bars released at start (index into the first series); default 0 */
  startIndex?: number;
  initialBalance: number;
  /** V1 keys and/or V3 API wallets (a V3 entry may also be given here) */
  credentials?: (V1Credential | V3Credential)[];
  v3Credentials?: V3Credential[];
  takerFee?: number;
  makerFee?: number;
  slippageBps?: number;
  defaultLeverage?: number;
  /** funding per 8 h when `fundingRates` has no entry (default 0.0001) */
  fundingRate?: number;
  fundingRates?: readonly FundingRate[];
  fundingIntervalMs?: number;
  /** EIP-712 chain id (1666 mainnet, 714 testnet) */
  chainId?: number;
  faults?: FaultPlan;
  /**
   * Wall time (default: the real clock, runtime/timers.ts): only for request checks (auth windows,
   * rate limits) and socket housekeeping, never for data, which is stamped on the market clock.
   */
  clock?: ClockPort;
  /** the timers of the replay loop and socket housekeeping (default: the real ones); all cleared at close */
  timers?: Timers;
  /** request weight per minute per IP before 429 (default 2400); 418 after 3 429s in a minute */
  weightLimit?: number;
  /** WS ping period and the time without a pong before a socket is dropped */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  listenKeyTtlMs?: number;
  /** a WebSocket connection is closed after this long (Aster: 24 h) */
  maxConnectionMs?: number;
  /** exchange filters per symbol (default: the real Aster exchangeInfo of 2026-01-12) */
  filters?: ReadonlyMap<string, SymbolFilters>;
  /** leverage brackets for margin and liquidation (default: the shipped table, pipelines/margin) */
  brackets?: BracketTable;
  /** liquidation fee rate on the liquidated notional (default 0.025) */
  liquidationFee?: number;
  /** ORDERS limits per account (Aster: 300 per 10 s, 1200 per minute); over them a new order gets 429 / -1015 */
  orderLimitPer10s?: number;
  orderLimitPerMinute?: number;
  /** the liquidity model (pipelines/liquidity; defaults: its settings' defaults) */
  liquidity?: Partial<LiquiditySettings>;
}

export interface SimulatorState {
  cursorTime: number;
  balance: number;
  availableBalance: number;
  positions: Position[];
  openOrders: SimOrder[];
  orders: SimOrder[];
  fills: SimFill[];
  fundingPaid: number;
  faults: FaultCounters;
  accounts: string[];
  marketSockets: number;
  userSockets: number;
}

export interface ExchangeSimulator {
  restUrl: string;
  wsUrl: string;
  state(account?: string): SimulatorState;
  injectFault(kind: FaultKind, opts?: FaultOptions): void;
  setFaults(plan: FaultPlan | undefined): void;
  /** releases n more bars (all series), returns how many steps happened (fewer at the end of data) */
  advance(n?: number): number;
  close(): Promise<void>;
}
