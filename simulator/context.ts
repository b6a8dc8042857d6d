import type { SymbolFilters } from '../pipelines/model/index.ts';
import type { ClockPort } from '../pipelines/ports.ts';
import type { BracketTable } from '../pipelines/margin/margin.kernel.ts';
import type { Engine, EngineEvent } from './matching.kernel.ts';
import type { FaultInjector } from './faults.ts';
import type { FundingSchedule } from './funding.ts';
import type { IncomeLedger } from './income.ts';
import type { SimulatorOptions } from './options.ts';
import type { Formats } from './payloads.ts';
import type { Replay } from './replay.ts';
import type { WsHub } from './ws-hub.ts';

/** A dead-man switch (countdownCancelAll) of one account and symbol, on the market clock. */
export interface Countdown {
  account: string;
  symbol: string;
  deadline: number;
}

/** Everything the route modules, the market feed and the servers share: one per simulator. */
export interface SimContext {
  readonly opts: SimulatorOptions;
  /** wall time: request checks and socket housekeeping only */
  readonly clock: ClockPort;
  /** runs `fn` after `ms` of wall time unless the simulator closed first */
  later(fn: () => void, ms: number): void;
  readonly engine: Engine;
  readonly filters: ReadonlyMap<string, SymbolFilters>;
  fmtOf(symbol: string): Formats;
  readonly replay: Replay;
  readonly funding: FundingSchedule;
  readonly income: IncomeLedger;
  readonly brackets: BracketTable;
  readonly faults: FaultInjector;
  readonly hub: WsHub;
  /** the simulator's symbols, in series order */
  readonly symbols: readonly string[];
  readonly countdowns: Map<string, Countdown>;
  /** the time stamped on everything the simulator emits: orders, fills, user-data and market events */
  eventTime(): number;
  /** sends engine events to their user-data sockets and public trades to the aggTrade streams */
  dispatch(events: readonly EngineEvent[]): void;
  /** sequence numbers of the public aggTrade ids and the book updates */
  readonly seq: { trade: number; book: number };
}
