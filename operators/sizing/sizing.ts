import type { OperatorFunction } from 'rxjs';
import type {
  TradeClosed,
  AllocatedDecision,
  Decision,
  Denied,
  OrderIntent,
  PipelineEvent,
  PortfolioSnapshot,
  PositionView,
  SymbolFilters,
} from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage, type StageHandler } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { clientOrderId } from '../execution/client-order-id.ts';
import { marketQuantity, minimumMarketQuantity } from '../execution/precision.kernel.ts';
import { initialStopDistance } from '../stops/stops.kernel.ts';
import type { StopSettings } from '../stops/stops.settings.ts';
import { ExecutionSettings } from '../execution/execution.settings.ts';
import {
  atrRiskQuantity,
  emptyRecord,
  kellyEstimate,
  kellyFraction,
  recordFromData,
  recordToData,
  recordTrade,
  type TradeRecord,
  type TradeRecordData,
} from './sizing.kernel.ts';
import { SizingSettings } from './sizing.settings.ts';

export interface SizingDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
}

type SizingStageSettings = SizingSettings & Pick<StopSettings, 'ATR_STOP_MULTIPLE'> & ExecutionSettings;

interface SizingState {
  equity: number;
  positions: readonly PositionView[];
  record: TradeRecordData;
  stopDistanceAtEntry: [string, number][];
}

/**
 * Turns allocated entry decisions into sized market-order intents (kelly | fixed | atr), rounded
 * to the symbol's step and checked against min qty / min notional; exits become reduce-only
 * intents for the whole position. Emits: every input unchanged, then an OrderIntent or a Denied.
 */
export function sizingStage(
  s: SizingStageSettings,
  deps: SizingDeps,
): Stage<'portfolio' | 'trade-closed' | 'allocated' | 'decision'> {
  return defineStage({
    name: 'sizing',
    consumes: ['portfolio', 'trade-closed', 'allocated', 'decision'],
    produces: ['intent', 'denied'],
    settings: pickSettings(s, SizingSettings, ExecutionSettings, ['ATR_STOP_MULTIPLE']),
    open: (emit) => openSizing(s, deps, emit),
  });
}

export function sizing(s: SizingStageSettings, deps: SizingDeps): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(sizingStage(s, deps));
}

type Sized =
  | { ok: true; quantity: number; explored: boolean }
  | { ok: false; rule: string; detail: string; value: number; limit: number };

/** The entry's quantity by SIZING_MODE, on the exchange's step, or why there is none. */
function entryQuantity(
  s: SizingStageSettings,
  record: TradeRecord,
  filters: SymbolFilters,
  a: AllocatedDecision,
  equity: number,
  stopDistance: number,
): Sized {
  const d = a.decision;
  let quantity: number;
  let explored = a.explored;
  if (s.SIZING_MODE === 'kelly') {
    const est = kellyEstimate(record, s.EXPECTED_WIN_RATE, s.REWARD_TO_RISK, s.KELLY_PRIOR_TRADES);
    const fraction = kellyFraction(est, s.KELLY_FRACTION, s.KELLY_FRACTION_CAP);
    quantity = (Math.max(0, fraction) * equity * a.share) / d.price;
    // No tradeable edge — Kelly not positive, or smaller than the least the exchange takes: only
    // an exploring episode trades (a probe), so Kelly keeps learning. Without this, a small
    // positive estimate would be refused by the exchange filter on every bar and, with no trade
    // ever closing, never update: Kelly would starve at its prior for good.
    const minimum = minimumMarketQuantity(filters, d.price);
    if (!(fraction > 0) || quantity < minimum) {
      if (a.mayExplore !== true && !explored)
        return {
          ok: false,
          rule: 'no-edge',
          detail: 'Kelly size is not positive or below the exchange minimum',
          value: quantity,
          limit: minimum,
        };
      explored = true;
    }
  } else if (s.SIZING_MODE === 'fixed') {
    quantity = (s.NOTIONAL_FRACTION * equity * a.share) / d.price;
  } else {
    quantity = atrRiskQuantity(equity, s.RISK_PER_TRADE, stopDistance) * a.share;
  }
  // an exploration is a probe (its share of the normal size) and never less than the exchange
  // takes, so it is placed even when the normal size is nothing (Kelly without an edge)
  if (explored) quantity = Math.max(quantity, minimumMarketQuantity(filters, d.price));
  const q = marketQuantity(filters, quantity, d.price);
  if (!q.ok)
    return { ok: false, rule: 'exchange-filter', detail: q.reason, value: quantity, limit: filters.marketMinQty };
  return { ok: true, quantity: q.quantity, explored };
}

function entryIntent(
  s: SizingStageSettings,
  d: Decision,
  quantity: number,
  stopDistance: number,
  explored: boolean,
): OrderIntent {
  return {
    kind: 'intent',
    time: d.time,
    symbol: d.symbol,
    clientOrderId: clientOrderId(s.BOT_ID, d.symbol, d.seq, 'e'),
    decisionSeq: d.seq,
    side: d.action === 'enter-long' ? 'BUY' : 'SELL',
    quantity,
    reduceOnly: false,
    reason: 'entry',
    refPrice: d.price,
    stopDistance,
    explored,
  };
}

/** An exit closes the whole position, reduce-only. */
function exitIntent(s: SizingStageSettings, d: Decision, held: number): OrderIntent {
  return {
    kind: 'intent',
    time: d.time,
    symbol: d.symbol,
    clientOrderId: clientOrderId(s.BOT_ID, d.symbol, d.seq, 'e'),
    decisionSeq: d.seq,
    side: held > 0 ? 'SELL' : 'BUY',
    quantity: Math.abs(held),
    reduceOnly: true,
    reason: 'exit',
    refPrice: d.price,
    stopDistance: 0,
  };
}

function denial(d: Decision, rule: string, detail: string, value: number, limit: number): Denied {
  return {
    kind: 'denied',
    time: d.time,
    symbol: d.symbol,
    stage: 'sizing',
    rule,
    value,
    limit,
    detail,
    decisionSeq: d.seq,
  };
}

function openSizing(
  s: SizingStageSettings,
  deps: SizingDeps,
  emit: Emit,
): StageHandler<'portfolio' | 'trade-closed' | 'allocated' | 'decision'> {
  let equity = 0;
  let positions: readonly PositionView[] = [];
  let record: TradeRecord = emptyRecord(s.KELLY_WINDOW_TRADES);
  /** the risk per unit each symbol's open position was sized with, for its R-multiple */
  const stopDistanceAtEntry = new Map<string, number>();

  const deny = (d: Decision, rule: string, detail: string, value = Number.NaN, limit = Number.NaN): void =>
    emit(denial(d, rule, detail, value, limit));

  const sizeEntry = (a: AllocatedDecision): void => {
    const d = a.decision;
    const filters = deps.filters.get(d.symbol);
    if (filters === undefined) return deny(d, 'unknown-symbol', `no exchange filters for ${d.symbol}`);
    if (!(equity > 0)) return deny(d, 'no-equity', `equity ${equity}`);
    const stopDistance = initialStopDistance(d.features.atr, s.ATR_STOP_MULTIPLE);
    if (!(stopDistance > 0)) return deny(d, 'no-stop-distance', `ATR ${d.features.atr} gives no stop distance`);
    const sized = entryQuantity(s, record, filters, a, equity, stopDistance);
    if (!sized.ok) return deny(d, sized.rule, sized.detail, sized.value, sized.limit);
    stopDistanceAtEntry.set(d.symbol, stopDistance);
    emit(entryIntent(s, d, sized.quantity, stopDistance, sized.explored));
  };

  const sizeExit = (d: Decision): void => {
    let held = 0;
    for (const p of positions) if (p.symbol === d.symbol) held = p.quantity;
    if (held === 0) return deny(d, 'no-position', `exit for ${d.symbol} with no position`);
    emit(exitIntent(s, d, held));
  };

  const onClosed = (e: TradeClosed): void => {
    // the Kelly window learns in R-multiples: net PnL over the risk the position was sized with
    const risk = stopDistanceAtEntry.get(e.symbol);
    if (risk !== undefined && risk > 0 && e.quantity > 0) recordTrade(record, e.netPnl / (e.quantity * risk));
  };

  return {
    next(e: PortfolioSnapshot | TradeClosed | AllocatedDecision | Decision) {
      emit(e);
      switch (e.kind) {
        case 'portfolio':
          equity = e.equity;
          positions = e.positions;
          return;
        case 'trade-closed':
          return onClosed(e);
        case 'allocated':
          return sizeEntry(e);
        case 'decision':
          if (e.action === 'exit') sizeExit(e);
          return;
      }
    },
    snapshot: (): SizingState => ({
      equity,
      positions,
      record: recordToData(record),
      stopDistanceAtEntry: [...stopDistanceAtEntry],
    }),
    restore(state: unknown) {
      const st = state as SizingState;
      equity = st.equity;
      positions = st.positions;
      record = recordFromData(st.record, s.KELLY_WINDOW_TRADES);
      stopDistanceAtEntry.clear();
      for (const [symbol, d] of st.stopDistanceAtEntry) stopDistanceAtEntry.set(symbol, d);
    },
  };
}
