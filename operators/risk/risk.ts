import type { OperatorFunction } from 'rxjs';
import type {
  Denied,
  FeatureBar,
  Fill,
  OperatorCommand,
  OrderIntent,
  OrderRejected,
  PipelineEvent,
  PortfolioSnapshot,
  PositionView,
  RiskStateChanged,
  SymbolFilters,
  TradeClosed,
} from '../../pipelines/model/index.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage, type StageHandler } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { clientOrderId, decisionSeq } from '../execution/client-order-id.ts';
import { marketQuantity } from '../execution/precision.kernel.ts';
import { ExecutionSettings } from '../execution/execution.settings.ts';
import type { PortfolioSettings } from '../portfolio/portfolio.settings.ts';
import { RiskBook, type RiskBookData } from './risk-book.ts';
import { judgeEntry, type Refusal } from './entry-gate.ts';
import { recordStopOut } from './stop-outs.ts';
import { drawdownHalt, operatorCommand, volatilityDelever, type StateChange } from './trading-state.ts';
import { RiskSettings } from './risk.settings.ts';

export interface RiskDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
}

type RiskStageSettings = RiskSettings &
  ExecutionSettings &
  Pick<PortfolioSettings, 'LEVERAGE'> & { BAR_INTERVAL: string };
type RiskKinds = 'portfolio' | 'command' | 'features' | 'fill' | 'order-rejected' | 'trade-closed' | 'intent';

/**
 * The risk stage. Entries are checked against trading state, protections, concurrency, the
 * per-position loss cap and the leverage cap (scaled down or denied, always with a reason);
 * exits and reductions always pass. It also acts on its own:
 * - drawdown ≥ MAX_DRAWDOWN → HALTED: entries refused, every position flattened;
 * - a symbol's realised volatility above the threshold → REDUCING: its position is cut to
 *   AUTO_DELEVER_FACTOR once per episode and new sizes on it are scaled by the same factor.
 * Emits: every input unchanged (intents only once approved), Denied, RiskStateChanged and its
 * own reduce-only intents. The rules live beside it: entry-gate.ts (entries), stop-outs.ts
 * (cooldown and stop-loss guard), trading-state.ts (halts and delever); the state in risk-book.ts.
 */
export function riskStage(s: RiskStageSettings, deps: RiskDeps): Stage<RiskKinds> {
  return defineStage({
    name: 'risk',
    consumes: ['portfolio', 'command', 'features', 'fill', 'order-rejected', 'trade-closed', 'intent'],
    produces: ['intent', 'denied', 'risk-state'],
    settings: pickSettings(s, RiskSettings, ExecutionSettings, ['LEVERAGE', 'BAR_INTERVAL']),
    open: (emit) => openRisk(s, deps, emit),
  });
}

export function risk(s: RiskStageSettings, deps: RiskDeps): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(riskStage(s, deps));
}

function riskDenial(i: OrderIntent, r: Refusal): Denied {
  return {
    kind: 'denied',
    time: i.time,
    symbol: i.symbol,
    stage: 'risk',
    rule: r.rule,
    value: r.value,
    limit: r.limit,
    detail: r.detail,
    decisionSeq: i.decisionSeq,
  };
}

/** The reduce-only order keeping `keepFraction` of `p`; null when the cut is below the exchange's step. */
function reductionIntent(
  s: RiskStageSettings,
  filters: SymbolFilters | undefined,
  p: PositionView,
  keepFraction: number,
  reason: 'delever' | 'halt-flatten',
  at: number,
): OrderIntent | null {
  const wanted = Math.abs(p.quantity) * (1 - keepFraction);
  const q =
    keepFraction === 0
      ? { ok: true as const, quantity: Math.abs(p.quantity) }
      : filters
        ? marketQuantity(filters, wanted, p.markPrice)
        : null;
  if (q === null || !q.ok) return null; // too small to cut: the position stays as it is
  const seq = decisionSeq(at);
  return {
    kind: 'intent',
    time: at,
    symbol: p.symbol,
    clientOrderId: clientOrderId(s.BOT_ID, p.symbol, seq, reason === 'delever' ? 'd' : 'h'),
    decisionSeq: seq,
    side: p.quantity > 0 ? 'SELL' : 'BUY',
    quantity: q.quantity,
    reduceOnly: true,
    reason,
    refPrice: p.markPrice,
    stopDistance: 0,
  };
}

function openRisk(s: RiskStageSettings, deps: RiskDeps, emit: Emit): StageHandler<RiskKinds> {
  const barMs = intervalToMs(s.BAR_INTERVAL);
  const book = new RiskBook();

  const announce = (change: StateChange | null): void => {
    if (change === null || change.to === book.state) return;
    const out: RiskStateChanged = {
      kind: 'risk-state',
      time: book.time,
      from: book.state,
      to: change.to,
      reason: change.reason,
    };
    book.state = change.to;
    emit(out);
  };

  const deny = (i: OrderIntent, r: Refusal): void => emit(riskDenial(i, r));

  /** a reduce-only market order keeping `keepFraction` of the position (0: close it all) */
  const reduce = (p: PositionView, keepFraction: number, reason: 'delever' | 'halt-flatten', at: number): void => {
    const intent = reductionIntent(s, deps.filters.get(p.symbol), p, keepFraction, reason, at);
    if (intent !== null) emit(intent);
  };

  const flattenRemaining = (at: number): void => {
    for (const symbol of book.flattening) if (book.held(symbol) === undefined) book.flattening.delete(symbol);
    for (const p of book.positions) {
      if (book.flattening.has(p.symbol)) continue;
      book.flattening.add(p.symbol);
      reduce(p, 0, 'halt-flatten', at);
    }
  };

  const onPortfolio = (e: PortfolioSnapshot): void => {
    emit(e);
    book.time = e.time;
    book.equity = e.equity;
    book.grossExposure = e.grossExposure;
    book.marginUsed = e.marginUsed;
    // filled entries are in these books now: stop counting them as in flight
    for (const [symbol, p] of book.inFlight) if (p.filled) book.settle(symbol);
    book.drawdown = e.drawdown;
    book.positions = e.positions;
    announce(drawdownHalt(book, e, s));
    if (book.flattenAll) flattenRemaining(e.time);
  };

  const onCommand = (e: OperatorCommand): void => {
    emit(e);
    book.time = e.time;
    announce(operatorCommand(book, e));
    if (e.command === 'emergency-stop') flattenRemaining(e.time);
  };

  const onFeatures = (e: FeatureBar): void => {
    emit(e);
    book.time = e.time;
    const verdict = volatilityDelever(book, e, s);
    if (verdict === null) return;
    if (verdict.cut) {
      const p = book.held(e.symbol);
      if (p !== undefined) reduce(p, s.AUTO_DELEVER_FACTOR, 'delever', e.time);
    }
    announce(verdict.change);
  };

  const onFill = (e: Fill): void => {
    emit(e);
    const p = book.inFlight.get(e.symbol);
    if (p !== undefined && p.clientOrderId === e.clientOrderId) p.filled = true;
  };

  const onRejected = (e: OrderRejected): void => {
    emit(e);
    if (book.inFlight.get(e.symbol)?.clientOrderId === e.clientOrderId) book.settle(e.symbol);
  };

  const onClosed = (e: TradeClosed): void => {
    emit(e);
    recordStopOut(book, e, s, barMs);
  };

  const onIntent = (i: OrderIntent): void => {
    if (i.reduceOnly) return emit(i); // exits and reductions are never blocked
    const verdict = judgeEntry(book, i, s, barMs, deps.filters.get(i.symbol));
    if (!verdict.ok) return deny(i, verdict);
    book.addInFlight(i.symbol, i.clientOrderId, verdict.quantity * i.refPrice);
    emit(verdict.quantity === i.quantity ? i : { ...i, quantity: verdict.quantity });
  };

  return {
    next(e) {
      switch (e.kind) {
        case 'portfolio':
          return onPortfolio(e);
        case 'command':
          return onCommand(e);
        case 'features':
          return onFeatures(e);
        case 'fill':
          return onFill(e);
        case 'order-rejected':
          return onRejected(e);
        case 'trade-closed':
          return onClosed(e);
        case 'intent':
          return onIntent(e);
      }
    },
    snapshot: (): RiskBookData => book.snapshot(),
    restore: (state) => book.restore(state as RiskBookData),
  };
}
