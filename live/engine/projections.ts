import type {
  Bar,
  Decision,
  Denied,
  FeatureBar,
  Fill,
  Order,
  PipelineEvent,
  PortfolioSnapshot,
  RiskStateChanged,
  TradeClosed,
  TradingState,
} from '../../pipelines/model/index.ts';
import { entriesToMap, mapToEntries } from '../../pipelines/stage.ts';
import { AllocationHistory, type AllocationPoint } from './allocation-history.ts';

const KEEP = { trades: 200, decisions: 200, denials: 100, equity: 2000, bars: 300, fills: 200, riskChanges: 50 };

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max + 32) list.splice(0, list.length - max);
}

export interface EventCounts {
  bars: number;
  decisions: number;
  orders: number;
  fills: number;
  rejections: number;
  denials: number;
  /** journal entries replayed at the last start (those after the snapshot it restored) */
  replayed: number;
}

/** What the API, dashboard, Telegram and metrics read: recent events, folded, read-only. */
export interface ReadModel {
  readonly portfolio: PortfolioSnapshot | null;
  readonly riskState: TradingState;
  readonly riskReason: string;
  readonly lastBarTime: number;
  readonly trades: readonly TradeClosed[];
  readonly decisions: readonly Decision[];
  readonly denials: readonly Denied[];
  readonly fills: readonly Fill[];
  readonly equityCurve: readonly { readonly time: number; readonly equity: number }[];
  readonly bars: ReadonlyMap<string, readonly Bar[]>;
  readonly features: ReadonlyMap<string, FeatureBar>;
  readonly riskChanges: readonly RiskStateChanged[];
  readonly counts: Readonly<EventCounts>;
  /** open protective stop / take-profit price per symbol, from the latest orders */
  readonly protection: ReadonlyMap<string, { readonly stop?: number; readonly takeProfit?: number }>;
  /** each strategy's allocation by the bandit over time (allocation-history.ts), oldest first */
  readonly allocations: readonly AllocationPoint[];
}

/** The projections as JSON data (a snapshot's part). */
interface ProjectionState {
  portfolio: PortfolioSnapshot | null;
  riskState: TradingState;
  riskReason: string;
  lastBarTime: number;
  trades: TradeClosed[];
  decisions: Decision[];
  denials: Denied[];
  fills: Fill[];
  equityCurve: { time: number; equity: number }[];
  bars: [string, Bar[]][];
  features: [string, FeatureBar][];
  riskChanges: RiskStateChanged[];
  counts: EventCounts;
  protection: [string, { stop?: number; takeProfit?: number }][];
  allocations?: ReturnType<AllocationHistory['snapshot']>;
}

/**
 * The read-model projections: every pipeline event folded into the bounded views the readers
 * need. Only the engine writes them (`observe`); readers get the ReadModel. They are part of a
 * journal snapshot, so a restart from one shows the same recent history as before it.
 */
export class Projections implements ReadModel {
  portfolio: PortfolioSnapshot | null = null;
  riskState: TradingState = 'ACTIVE';
  riskReason = '';
  lastBarTime = 0;
  trades: TradeClosed[] = [];
  decisions: Decision[] = [];
  denials: Denied[] = [];
  fills: Fill[] = [];
  equityCurve: { time: number; equity: number }[] = [];
  readonly bars = new Map<string, Bar[]>();
  readonly features = new Map<string, FeatureBar>();
  riskChanges: RiskStateChanged[] = [];
  counts: EventCounts = { bars: 0, decisions: 0, orders: 0, fills: 0, rejections: 0, denials: 0, replayed: 0 };
  readonly protection = new Map<string, { stop?: number; takeProfit?: number }>();
  private readonly allocationHistory = new AllocationHistory();

  get allocations(): readonly AllocationPoint[] {
    return this.allocationHistory.points;
  }

  observe(e: PipelineEvent): void {
    this.allocationHistory.observe(e);
    switch (e.kind) {
      case 'bar':
        this.onBar(e);
        break;
      case 'features':
        this.features.set(e.symbol, e);
        break;
      case 'portfolio':
        this.onPortfolio(e);
        break;
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
        break;
      case 'fill':
        this.counts.fills++;
        pushBounded(this.fills, e, KEEP.fills);
        break;
      case 'order-rejected':
        this.counts.rejections++;
        break;
      case 'trade-closed':
        pushBounded(this.trades, e, KEEP.trades);
        this.protection.delete(e.symbol);
        break;
      case 'risk-state':
        this.riskState = e.to;
        this.riskReason = e.reason;
        pushBounded(this.riskChanges, e, KEEP.riskChanges);
        break;
      default:
        break;
    }
  }

  private onBar(e: Bar): void {
    this.counts.bars++;
    if (e.time > this.lastBarTime) this.lastBarTime = e.time;
    let list = this.bars.get(e.symbol);
    if (!list) this.bars.set(e.symbol, (list = []));
    pushBounded(list, e, KEEP.bars);
  }

  private onPortfolio(e: PortfolioSnapshot): void {
    this.portfolio = e;
    const last = this.equityCurve.at(-1);
    if (last && last.time === e.time) last.equity = e.equity;
    else pushBounded(this.equityCurve, { time: e.time, equity: e.equity }, KEEP.equity);
  }

  private trackProtection(o: Order): void {
    if (o.type === 'STOP_MARKET')
      this.protection.set(o.symbol, { ...this.protection.get(o.symbol), stop: o.stopPrice });
    if (o.type === 'TAKE_PROFIT_MARKET') {
      this.protection.set(o.symbol, { ...this.protection.get(o.symbol), takeProfit: o.stopPrice });
    }
  }

  snapshot(): ProjectionState {
    return {
      portfolio: this.portfolio,
      riskState: this.riskState,
      riskReason: this.riskReason,
      lastBarTime: this.lastBarTime,
      trades: this.trades,
      decisions: this.decisions,
      denials: this.denials,
      fills: this.fills,
      equityCurve: this.equityCurve,
      bars: mapToEntries(this.bars, (b) => b),
      features: mapToEntries(this.features, (f) => f),
      riskChanges: this.riskChanges,
      counts: this.counts,
      protection: mapToEntries(this.protection, (p) => p),
      allocations: this.allocationHistory.snapshot(),
    };
  }

  restore(state: unknown): void {
    const s = state as ProjectionState;
    this.portfolio = s.portfolio;
    this.riskState = s.riskState;
    this.riskReason = s.riskReason;
    this.lastBarTime = s.lastBarTime;
    this.trades = s.trades;
    this.decisions = s.decisions;
    this.denials = s.denials;
    this.fills = s.fills;
    this.equityCurve = s.equityCurve;
    entriesToMap(s.bars, (b: Bar[]) => b, this.bars);
    entriesToMap(s.features, (f: FeatureBar) => f, this.features);
    this.riskChanges = s.riskChanges;
    this.counts = { ...s.counts, replayed: 0 };
    entriesToMap(s.protection, (p: { stop?: number; takeProfit?: number }) => p, this.protection);
    this.allocationHistory.restore(s.allocations);
  }
}
