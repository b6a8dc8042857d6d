import type { OperatorFunction } from 'rxjs';
import type {
  FeatureBar,
  Fill,
  OrderIntent,
  OrderRejected,
  PipelineEvent,
  PortfolioSnapshot,
  ProtectIntent,
} from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage, type StageHandler } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { initialStopPrice, stepTrail, takeProfitPrice, type TrailState } from './stops.kernel.ts';
import { StopSettings } from './stops.settings.ts';

interface Guarded extends TrailState {
  entryOrderId: string;
  seq: number;
  generation: number;
  takeProfit: number;
  /** the entry has filled (the stop now guards a real position) */
  open: boolean;
}

/**
 * Protects every entry: with the entry intent it emits the initial stop (ATR_STOP_MULTIPLE ATRs)
 * and take-profit (REWARD_TO_RISK stop distances), placed with the entry so the position is never
 * naked. After each closed bar it ratchets the trailing stop (never loosening) and emits the new
 * stop. State: per subscription, one entry per symbol, dropped when the position is gone.
 */
type StopStageSettings = StopSettings & { REWARD_TO_RISK: number };
type StopKinds = 'intent' | 'fill' | 'order-rejected' | 'portfolio' | 'features';

export function trailingStopStage(s: StopStageSettings): Stage<StopKinds> {
  return defineStage({
    name: 'stops',
    consumes: ['intent', 'fill', 'order-rejected', 'portfolio', 'features'],
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

  return {
    next(e: OrderIntent | Fill | OrderRejected | PortfolioSnapshot | FeatureBar) {
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
        case 'features': {
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
    snapshot: (): [string, Guarded][] => [...guarded].map(([symbol, g]) => [symbol, { ...g }]),
    restore(state) {
      guarded.clear();
      for (const [symbol, g] of state as [string, Guarded][]) guarded.set(symbol, { ...g });
    },
  };
}
