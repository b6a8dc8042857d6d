import type { OperatorFunction } from 'rxjs';
import type {
  FeatureBar,
  Fill,
  OrderIntent,
  OrderRejected,
  PipelineEvent,
  PortfolioSnapshot,
  PositionAdopted,
  ProtectIntent,
} from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage, type StageHandler } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { adoptedProtection, initialStopPrice, stepTrail, takeProfitPrice, type TrailState } from './stops.kernel.ts';
import { StopSettings } from './stops.settings.ts';

interface Guarded extends TrailState {
  entryOrderId: string;
  seq: number;
  generation: number;
  takeProfit: number;
  /** the entry has filled (the stop now guards a real position) */
  open: boolean;
}

/** The guard of a position taken over from the exchange, from the last close and ATR seen. */
function adoptedGuard(e: PositionAdopted, [close, atr]: [number, number], s: StopStageSettings): Guarded {
  const side = e.side === 'LONG' ? 1 : -1;
  const p = adoptedProtection(e, close, atr, s);
  return {
    side,
    entry: e.entryPrice,
    stop: p.stop,
    best: side === 1 ? Math.max(e.entryPrice, close) : Math.min(e.entryPrice, close),
    trailing: false,
    entryOrderId: '',
    seq: e.seq,
    generation: 0,
    takeProfit: p.takeProfit,
    open: true,
  };
}

interface StopsState {
  guarded: [string, Guarded][];
  lastSeen: [string, [number, number]][];
}

/**
 * Protects every entry: with the entry intent it emits the initial stop (ATR_STOP_MULTIPLE ATRs)
 * and take-profit (REWARD_TO_RISK stop distances), placed with the entry so the position is never
 * naked. After each closed bar it ratchets the trailing stop (never loosening) and emits the new
 * stop. A position taken over from the exchange is protected the same way from the adoption on
 * (see adoptedProtection). State: per subscription, one entry per symbol, dropped when the position
 * is gone, and the last close and ATR of each symbol (what an adopted position is protected from).
 */
type StopStageSettings = StopSettings & { REWARD_TO_RISK: number };
type StopKinds = 'intent' | 'fill' | 'order-rejected' | 'portfolio' | 'features' | 'position-adopted';

export function trailingStopStage(s: StopStageSettings): Stage<StopKinds> {
  return defineStage({
    name: 'stops',
    consumes: ['intent', 'fill', 'order-rejected', 'portfolio', 'features', 'position-adopted'],
    produces: ['protect'],
    settings: pickSettings(s, StopSettings, ['REWARD_TO_RISK']),
    open: (emit) => openStops(s, emit),
  });
}

export function trailingStop(s: StopStageSettings): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(trailingStopStage(s));
}

function openStops(s: StopStageSettings, emit: Emit): StageHandler<StopKinds> {
  const guarded = new Map<string, Guarded>();
  /** symbol → [last close, its ATR] */
  const lastSeen = new Map<string, [number, number]>();

  const protect = (g: Guarded, symbol: string, time: number, cause: 'initial' | 'trail'): void => {
    const out: ProtectIntent = {
      kind: 'protect',
      time,
      symbol,
      positionSide: g.side === 1 ? 'LONG' : 'SHORT',
      stopPrice: g.stop,
      takeProfitPrice: g.takeProfit,
      cause,
      decisionSeq: g.seq,
      generation: g.generation,
    };
    emit(out);
  };

  const onEntry = (i: OrderIntent): void => {
    const side = i.side === 'BUY' ? 1 : -1;
    const g: Guarded = {
      side,
      entry: i.refPrice,
      stop: initialStopPrice(i.refPrice, side, i.stopDistance),
      best: i.refPrice,
      trailing: false,
      entryOrderId: i.clientOrderId,
      seq: i.decisionSeq,
      generation: 0,
      takeProfit: takeProfitPrice(i.refPrice, side, i.stopDistance, s.REWARD_TO_RISK),
      open: false,
    };
    guarded.set(i.symbol, g);
    protect(g, i.symbol, i.time, 'initial');
  };

  const onAdopted = (e: PositionAdopted): void => {
    const g = adoptedGuard(e, lastSeen.get(e.symbol) ?? [e.entryPrice, 0], s);
    guarded.set(e.symbol, g);
    protect(g, e.symbol, e.time, 'initial');
  };

  return {
    next(e: OrderIntent | Fill | OrderRejected | PortfolioSnapshot | FeatureBar | PositionAdopted) {
      emit(e);
      switch (e.kind) {
        case 'intent':
          if (!e.reduceOnly && e.stopDistance > 0) onEntry(e);
          return;
        case 'fill': {
          const g = guarded.get(e.symbol);
          if (g !== undefined && e.clientOrderId === g.entryOrderId) {
            // trail from the real fill, not the decision price
            g.open = true;
            g.entry = e.price;
            g.best = e.price;
          }
          return;
        }
        case 'order-rejected': {
          const g = guarded.get(e.symbol);
          if (g !== undefined && e.clientOrderId === g.entryOrderId) guarded.delete(e.symbol);
          return;
        }
        case 'portfolio': {
          if (guarded.size === 0) return;
          for (const [symbol, g] of guarded) {
            if (!g.open) continue;
            let still = false;
            for (const p of e.positions) if (p.symbol === symbol) still = true;
            if (!still) guarded.delete(symbol);
          }
          return;
        }
        case 'position-adopted':
          onAdopted(e);
          return;
        case 'features': {
          lastSeen.set(e.symbol, [e.bar.close, e.atr]);
          const g = guarded.get(e.symbol);
          if (g === undefined || !g.open) return;
          const extreme = g.side === 1 ? e.bar.high : e.bar.low;
          if (stepTrail(g, extreme, s.TRAILING_STOP_BUFFER, s.TRAILING_STEP)) {
            g.generation++;
            protect(g, e.symbol, e.time, 'trail');
          }
          return;
        }
      }
    },
    snapshot: (): StopsState => ({
      guarded: [...guarded].map(([symbol, g]) => [symbol, { ...g }]),
      lastSeen: [...lastSeen],
    }),
    restore(state) {
      const st = state as StopsState;
      guarded.clear();
      for (const [symbol, g] of st.guarded) guarded.set(symbol, { ...g });
      lastSeen.clear();
      for (const [symbol, seen] of st.lastSeen) lastSeen.set(symbol, seen);
    },
  };
}
