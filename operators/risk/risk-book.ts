import type { PositionView, TradingState } from '../../pipelines/model/index.ts';

/** An entry approved but not yet in the books. */
export interface InFlightEntry {
  clientOrderId: string;
  notional: number;
  filled: boolean;
}

/** Everything the risk stage remembers, as JSON data (what a snapshot stores). */
export interface RiskBookData {
  state: TradingState;
  haltedBy: 'drawdown' | 'operator' | null;
  flattenAll: boolean;
  flattening: string[];
  equity: number;
  grossExposure: number;
  marginUsed: number;
  drawdown: number;
  positions: readonly PositionView[];
  time: number;
  delevering: string[];
  lastStopBar: [string, number][];
  stopBars: number[];
  lockedUntilBar: number;
  inFlight: [string, InFlightEntry][];
  pendingExposure: number;
}

/** The stop-out history kept for the stop-loss guard (older stop-outs cannot matter). */
export const STOP_HISTORY = 256;

/**
 * The risk stage's state for one subscription: the books as the last portfolio snapshot showed
 * them, the trading state, the stop-out history and the entries in flight. The rules
 * (entry-gate, stop-outs, trading-state) read and change it; the stage emits what they decide.
 */
export class RiskBook {
  state: TradingState = 'ACTIVE';
  /** why HALTED: the drawdown floor, or an operator (halt / emergency stop) */
  haltedBy: 'drawdown' | 'operator' | null = null;
  /** halt-and-flatten: any position that appears (a late entry fill) is flattened too */
  flattenAll = false;
  /** symbols a flatten order was sent for */
  readonly flattening = new Set<string>();
  equity = 0;
  grossExposure = 0;
  marginUsed = 0;
  drawdown = 0;
  positions: readonly PositionView[] = [];
  /** time of the last event that can change the trading state */
  time = 0;
  /** symbols whose realised volatility is above the delever threshold */
  readonly delevering = new Set<string>();
  readonly lastStopBar = new Map<string, number>();
  /** bar indices of recent losing stop-outs, ascending */
  readonly stopBars: number[] = [];
  lockedUntilBar = -1;
  /**
   * Entries approved but not yet in the books, by symbol: a second one must not stack on top,
   * and their notional counts against the leverage cap and the margin until a portfolio
   * snapshot includes them (a fill arrives before the snapshot that books it).
   */
  readonly inFlight = new Map<string, InFlightEntry>();
  pendingExposure = 0;

  held(symbol: string): PositionView | undefined {
    for (const p of this.positions) if (p.symbol === symbol) return p;
    return undefined;
  }

  addInFlight(symbol: string, clientOrderId: string, notional: number): void {
    this.inFlight.set(symbol, { clientOrderId, notional, filled: false });
    this.pendingExposure += notional;
  }

  /** an entry in flight is filled and booked, or rejected: it stops counting as pending */
  settle(symbol: string): void {
    const p = this.inFlight.get(symbol);
    if (p === undefined) return;
    this.inFlight.delete(symbol);
    this.pendingExposure = this.inFlight.size === 0 ? 0 : this.pendingExposure - p.notional;
  }

  snapshot(): RiskBookData {
    return {
      state: this.state,
      haltedBy: this.haltedBy,
      flattenAll: this.flattenAll,
      flattening: [...this.flattening],
      equity: this.equity,
      grossExposure: this.grossExposure,
      marginUsed: this.marginUsed,
      drawdown: this.drawdown,
      positions: this.positions,
      time: this.time,
      delevering: [...this.delevering],
      lastStopBar: [...this.lastStopBar],
      stopBars: [...this.stopBars],
      lockedUntilBar: this.lockedUntilBar,
      inFlight: [...this.inFlight].map(([symbol, p]) => [symbol, { ...p }]),
      pendingExposure: this.pendingExposure,
    };
  }

  restore(d: RiskBookData): void {
    this.state = d.state;
    this.haltedBy = d.haltedBy;
    this.flattenAll = d.flattenAll;
    refill(this.flattening, d.flattening);
    this.equity = d.equity;
    this.grossExposure = d.grossExposure;
    this.marginUsed = d.marginUsed;
    this.drawdown = d.drawdown;
    this.positions = d.positions;
    this.time = d.time;
    refill(this.delevering, d.delevering);
    this.lastStopBar.clear();
    for (const [symbol, bar] of d.lastStopBar) this.lastStopBar.set(symbol, bar);
    this.stopBars.length = 0;
    this.stopBars.push(...d.stopBars);
    this.lockedUntilBar = d.lockedUntilBar;
    this.inFlight.clear();
    for (const [symbol, p] of d.inFlight) this.inFlight.set(symbol, { ...p });
    this.pendingExposure = d.pendingExposure;
  }
}

function refill(set: Set<string>, values: readonly string[]): void {
  set.clear();
  for (const v of values) set.add(v);
}
