import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import type {
  AgentView,
  AuditLine,
  CandleView,
  DashboardEventName,
  DashboardEvents,
  DashboardView,
  DenialView,
  GateView,
  LockView,
  MarkerView,
  PortfolioView,
  PositionRow,
  RiskView,
  SystemView,
  TradeRow,
} from './dashboard-view.ts';
import type {
  Bar,
  Decision,
  Denied,
  GateOutcome,
  PipelineEvent,
  PortfolioSnapshot,
  TradeClosed,
  TradingState,
} from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';
import { CANCELLED_BY_OPERATOR } from '../../pipelines/model/index.ts';
import { allocationSeries, armKeys, banditArms, entryLocks, performance, withAllocation } from './desk.kernel.ts';
import type { Desk } from './desk.ts';

/** JSON has no NaN/Infinity: "does not exist" is null. */
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

export interface SystemProbe {
  mode: string;
  exchange(): string;
  redis(): string;
  models(): { name: string; status: string }[];
  /** agent availability, faults by kind, share of decisions without each (null: agents off) */
  agents?(): AgentHealth | null;
}

function gateView(g: GateOutcome): GateView {
  return { gate: g.gate, passed: g.passed, value: num(g.value), limit: num(g.limit) };
}

function portfolioView(p: PortfolioSnapshot | null, settings: Settings): PortfolioView {
  const equity = p?.equity ?? settings.INITIAL_BALANCE;
  return {
    balance: p?.balance ?? settings.INITIAL_BALANCE,
    equity,
    exposure: p?.grossExposure ?? 0,
    leverage: p && equity > 0 ? p.grossExposure / equity : 0,
    drawdown: p?.drawdown ?? 0,
    maxDrawdownLimit: settings.MAX_DRAWDOWN,
  };
}

/** Closed trades kept by the engine, newest first, with why each was opened. */
export function tradeRows(engine: TradingEngine): TradeRow[] {
  return engine.read.trades
    .slice()
    .reverse()
    .map((t) => tradeRow(t, entryReason(engine, t.symbol, t.openedAt)));
}

function tradeRow(t: TradeClosed, entryReasonText: string | null): TradeRow {
  return {
    entryReason: entryReasonText,
    time: t.time,
    symbol: t.symbol,
    side: t.side,
    quantity: t.quantity,
    entryPrice: t.entryPrice,
    exitPrice: t.exitPrice,
    openedAt: t.openedAt,
    netPnl: t.netPnl,
    returnPct: t.returnPct,
    exitReason: t.exitReason,
  };
}

function denialView(d: Denied): DenialView {
  return { time: d.time, symbol: d.symbol, stage: d.stage, rule: d.rule, detail: d.detail };
}

/** The entry decision behind a position opened at `openedAt` (the last one before it, within a day). */
function entryDecision(decisions: readonly Decision[], symbol: string, openedAt: number): Decision | undefined {
  for (let i = decisions.length - 1; i >= 0; i--) {
    const d = decisions[i]!;
    if (d.symbol !== symbol || d.action === 'exit' || d.time > openedAt) continue;
    return openedAt - d.time <= 86_400_000 ? d : undefined;
  }
  return undefined;
}

/** Why a position was opened, in words. */
function entryReason(engine: TradingEngine, symbol: string, openedAt: number): string | null {
  const d = entryDecision(engine.read.decisions, symbol, openedAt);
  return d ? decisionText(d) : null;
}

/** A decision's numbers and the checks it passed, without naming its source. */
export function signalText(d: Decision): string {
  const f = d.features;
  const head =
    d.source === 'external'
      ? `external ${d.action} (confidence ${(d.confidence * 100).toFixed(0)} %)`
      : `${(f.lookbackReturn * 100).toFixed(2)} % over the lookback, 24 h ${(f.change24h * 100).toFixed(2)} %, ` +
        `ATR ${f.atr.toPrecision(4)}, volatility ${(f.volatility * 100).toFixed(0)} %`;
  const checks = d.gates.map((g) => `${g.gate} ${g.passed ? '✓' : '✗'}`).join(', ');
  return checks ? `${head}; ${checks}` : head;
}

/** A decision in one line: who proposed it, on what numbers, and the checks it passed. */
export function decisionText(d: Decision): string {
  return d.source === 'external' ? signalText(d) : `${d.source}: ${signalText(d)}`;
}

function positionRows(engine: TradingEngine): PositionRow[] {
  return (engine.read.portfolio?.positions ?? []).map((p) => {
    const guard = engine.read.protection.get(p.symbol);
    return {
      symbol: p.symbol,
      side: p.quantity > 0 ? 'LONG' : 'SHORT',
      quantity: Math.abs(p.quantity),
      entryPrice: p.entryPrice,
      markPrice: p.markPrice,
      unrealizedPnl: p.unrealizedPnl,
      stopPrice: guard?.stop ?? null,
      takeProfitPrice: guard?.takeProfit ?? null,
      reason: entryReason(engine, p.symbol, p.openedAt),
    };
  });
}

export function systemView(engine: TradingEngine, probe: SystemProbe): SystemView {
  return {
    running: engine.running,
    mode: probe.mode,
    exchange: probe.exchange(),
    redis: probe.redis(),
    models: probe.models(),
    agents: probe.agents?.() ?? null,
  };
}

/** Agents as the page shows them: last opinion per agent and how often trades it backed won. */
function agentViews(engine: TradingEngine, probe: SystemProbe, desk: Desk): AgentView[] {
  const byAgent = new Map<string, { decision: Decision; summary: string }>();
  for (const d of engine.read.decisions)
    for (const o of d.opinions) byAgent.set(o.agent, { decision: d, summary: o.summary });
  // an agent's later opinion on a signal that never became a decision (gated) is its last word
  const lastWord = (name: string, view: AgentView): AgentView => {
    const seen = desk.lastOpinion.get(name);
    const fromDecision = byAgent.get(name)?.decision.time ?? -Infinity;
    if (!seen || seen.time <= fromDecision) return view;
    const o = seen.opinion;
    return {
      ...view,
      lastThesis: `${seen.symbol}: ${o.summary}`,
      lastGates: [
        { gate: o.accepted ? 'accepted' : 'rejected', passed: o.accepted, value: num(o.confidence), limit: null },
      ],
    };
  };
  const statuses = new Map(probe.models().map((m) => [m.name, m.status]));
  const views: AgentView[] = [];
  for (const [name, status] of statuses) {
    const last = byAgent.get(name);
    views.push(
      lastWord(name, {
        name,
        status,
        lastThesis: last?.summary ?? null,
        lastGates: last ? last.decision.gates.map(gateView) : [],
        winRate: null,
      }),
    );
  }
  // agents seen in decisions but not configured as models (embedded ones) still show
  for (const [name, last] of byAgent) {
    if (statuses.has(name)) continue;
    views.push({
      name,
      status: 'embedded',
      lastThesis: last.summary,
      lastGates: last.decision.gates.map(gateView),
      winRate: null,
    });
  }
  // win rate: closed trades whose entry decision carried an accepting opinion from the agent
  for (const view of views) {
    let wins = 0;
    let total = 0;
    for (const t of engine.read.trades) {
      const entry = entryDecision(engine.read.decisions, t.symbol, t.openedAt);
      if (!entry?.opinions.some((o) => o.agent === view.name && o.accepted)) continue;
      total++;
      if (t.netPnl > 0) wins++;
    }
    view.winRate = total > 0 ? wins / total : null;
  }
  return views;
}

function markers(engine: TradingEngine, symbol: string): MarkerView[] {
  const out: MarkerView[] = [];
  for (const t of engine.read.trades) {
    if (t.symbol !== symbol) continue;
    out.push({
      time: t.openedAt,
      kind: 'entry',
      side: t.side,
      price: t.entryPrice,
      text: t.side === 'LONG' ? 'Long' : 'Short',
    });
    out.push({ time: t.time, kind: 'exit', side: t.side, price: t.exitPrice, text: t.exitReason });
  }
  for (const p of engine.read.portfolio?.positions ?? []) {
    if (p.symbol !== symbol) continue;
    const side = p.quantity > 0 ? 'LONG' : 'SHORT';
    out.push({ time: p.openedAt, kind: 'entry', side, price: p.entryPrice, text: side === 'LONG' ? 'Long' : 'Short' });
  }
  return out.sort((a, b) => a.time - b.time);
}

const utc = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The signal source of the entry behind a closed trade (its bandit arm's source). */
function tradeSource(engine: TradingEngine) {
  return (t: TradeClosed): string | null => entryDecision(engine.read.decisions, t.symbol, t.openedAt)?.source ?? null;
}

/** The risk panel: the stage's state, what locks entries now and until when, the bandit's arms. */
export function riskView(engine: TradingEngine, settings: Settings, desk: Desk): RiskView {
  const locks: LockView[] = [];
  if (engine.read.riskState === 'HALTED') {
    const drawdown = !engine.operatorHalted && /drawdown/i.test(engine.read.riskReason);
    locks.push({
      kind: drawdown ? 'drawdown-halt' : 'operator-halt',
      symbol: null,
      until: null,
      detail: drawdown
        ? `${engine.read.riskReason}: only new settings lift it`
        : `${engine.read.riskReason || 'stopped by an operator'}${engine.operatorHalted ? ': Start lifts it' : ''}`,
    });
  }
  locks.push(...entryLocks(engine.read.trades, desk.entriesInFlight(), settings, engine.read.lastBarTime));
  const everything = locks.find((l) => l.symbol === null);
  const lockedSymbols = new Set(locks.filter((l) => l.symbol !== null).map((l) => l.symbol));
  const openSymbols = settings.SYMBOLS.filter((s) => !lockedSymbols.has(s));
  const entriesOpen = everything === undefined && openSymbols.length > 0;
  let headline: string;
  if (everything?.kind === 'stoploss-guard') {
    headline = `ENTRIES LOCKED — stop-loss guard until ${utc(everything.until!)} (exits and stops still run)`;
  } else if (everything !== undefined) {
    headline = `HALTED — ${everything.detail}; exits and stops still run`;
  } else if (!entriesOpen) {
    headline = `ENTRIES LOCKED — every symbol is resting or has an entry in flight`;
  } else if (engine.read.riskState === 'REDUCING') {
    headline = `REDUCING — ${engine.read.riskReason || 'sizes cut on volatile symbols'}`;
  } else {
    headline =
      lockedSymbols.size > 0
        ? `ACTIVE — entries open on ${openSymbols.join(', ')}; locked on ${[...lockedSymbols].join(', ')}`
        : 'ACTIVE — trading normally';
  }
  const arms = banditArms(engine.read.trades, tradeSource(engine), armKeys(engine.read.decisions), settings);
  return {
    state: engine.read.riskState,
    headline,
    entriesOpen,
    locks,
    arms,
    recentDenials: engine.read.denials.slice(-20).reverse().map(denialView),
  };
}

/** A symbol's kept bars as the price chart's candles. */
export function candleViews(_symbol: string, bars: readonly Bar[]): CandleView[] {
  return bars.map((b) => ({ time: b.openTime, open: b.open, high: b.high, low: b.low, close: b.close }));
}

/** The parts of the view that move with the wall clock or outside the engine: rebuilt per request. */
export type DashboardClockPart = Pick<DashboardView, 'time' | 'system' | 'reports' | 'config' | 'health'>;
/** The rest: a function of the engine's state (its `version`) and the desk's audit trail only. */
export type DashboardStatePart = Omit<DashboardView, keyof DashboardClockPart>;

/** Cheap (well under a kilobyte of JSON): time, uptime, probes, the reports folder, /healthz figures. */
export function dashboardClock(
  engine: TradingEngine,
  probe: SystemProbe,
  reports: string[],
  now: number,
  desk: Desk,
): DashboardClockPart {
  return {
    time: now,
    system: systemView(engine, probe),
    reports,
    config: desk.config(now),
    health: { lastError: engine.lastError, lastBarTime: engine.read.lastBarTime > 0 ? engine.read.lastBarTime : null },
  };
}

/**
 * Everything derived from the engine's record, the desk's audit trail and the agents' statuses:
 * built once per change of those (routes/dashboard-data.ts), not per request.
 */
export function dashboardState(
  engine: TradingEngine,
  settings: Settings,
  probe: SystemProbe,
  desk: Desk,
  candles: (symbol: string, bars: readonly Bar[]) => CandleView[] = candleViews,
): DashboardStatePart {
  const provider = settings.ANALYTICS_PROVIDER === 'none' ? '' : settings.ANALYTICS_PROVIDER;
  const audit: AuditLine[] = desk.audit.slice(-50).reverse();
  const risk = riskView(engine, settings, desk);
  const perf = performance(engine.read.trades, engine.read.portfolio?.realizedPnl ?? 0, tradeSource(engine));
  return {
    portfolio: portfolioView(engine.read.portfolio, settings),
    equityCurve: engine.read.equityCurve.map((p) => ({ time: p.time, equity: p.equity })),
    positions: positionRows(engine),
    trades: engine.read.trades
      .slice(-100)
      .reverse()
      .map((t) => tradeRow(t, entryReason(engine, t.symbol, t.openedAt))),
    prices: [...engine.read.bars.entries()].map(([symbol, bars]) => ({
      symbol,
      candles: candles(symbol, bars),
      markers: markers(engine, symbol),
    })),
    agents: agentViews(engine, probe, desk),
    risk,
    analytics: { provider, id: settings.ANALYTICS_ID, domain: settings.PLAUSIBLE_DOMAIN },
    performance: {
      ...perf,
      perStrategy: withAllocation(perf.perStrategy, risk.arms, desk.strategies()),
      allocationOverTime: allocationSeries(engine.read.allocations, engine.read.lastBarTime),
    },
    openOrders: desk.openOrders(),
    audit,
  };
}

export type SseMessage = { [K in DashboardEventName]: { event: K; data: DashboardEvents[K] } }[DashboardEventName];

/** The dashboard's live feed: pipeline events → server-sent events (none for per-bar noise). */
/** What the feed needs besides the event itself: the live book and risk state. */
export interface FeedContext {
  riskState: TradingState;
  positions(): PositionRow[];
  entryReason(symbol: string, openedAt: number): string | null;
}

export function engineFeed(engine: TradingEngine): FeedContext {
  return {
    get riskState() {
      return engine.read.riskState;
    },
    positions: () => positionRows(engine),
    entryReason: (symbol, openedAt) => entryReason(engine, symbol, openedAt),
  };
}

export function sseMessages(e: PipelineEvent, feed: FeedContext, settings: Settings): SseMessage[] {
  switch (e.kind) {
    case 'decision': {
      const out: SseMessage[] = [
        {
          event: 'decision',
          data: {
            time: e.time,
            symbol: e.symbol,
            action: e.action,
            confidence: e.confidence,
            price: e.price,
            source: e.source,
            gates: e.gates.map(gateView),
          },
        },
      ];
      for (const o of e.opinions) {
        out.push({ event: 'reasoning', data: { time: e.time, symbol: e.symbol, agent: o.agent, text: o.summary } });
      }
      // no agent spoke: the signal's own numbers and checks are the reason
      if (e.opinions.length === 0) {
        out.push({
          event: 'reasoning',
          // the source is the speaker: the text does not name it again
          data: { time: e.time, symbol: e.symbol, agent: e.source, text: signalText(e) },
        });
      }
      return out;
    }
    case 'fill':
      return [
        {
          event: 'fill',
          data: {
            time: e.time,
            symbol: e.symbol,
            side: e.side,
            quantity: e.quantity,
            price: e.price,
            fee: e.fee,
            reason: e.reason,
          },
        },
      ];
    case 'trade-closed':
      return [{ event: 'trade', data: tradeRow(e, feed.entryReason(e.symbol, e.openedAt)) }];
    case 'portfolio':
      return [
        {
          event: 'portfolio',
          data: { ...portfolioView(e, settings), time: e.time, positions: feed.positions() },
        },
      ];
    case 'denied':
      return [{ event: 'risk', data: { time: e.time, state: feed.riskState, denial: denialView(e) } }];
    case 'risk-state':
      return [{ event: 'risk', data: { time: e.time, state: e.to, reason: e.reason } }];
    case 'order-rejected':
      return [
        {
          event: 'order',
          data: {
            time: e.time,
            symbol: e.symbol,
            clientOrderId: e.clientOrderId,
            outcome: e.reason === CANCELLED_BY_OPERATOR ? 'cancelled' : 'rejected',
            reason: e.reason,
          },
        },
      ];
    default:
      return [];
  }
}
