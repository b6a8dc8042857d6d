import type { OperatorFunction } from 'rxjs';
import { intervalToMs, type Bar, type FeatureBar, type PipelineEvent } from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { FeatureState, gapLimitBars, type FeatureParams, type FeatureStateData } from './features.kernel.ts';
import { FeatureSettings } from './features.settings.ts';

const DAY_MS = 86_400_000;

export function featureParams(s: FeatureSettings): FeatureParams {
  const intervalMs = intervalToMs(s.BAR_INTERVAL);
  return {
    atrPeriod: s.ATR_PERIOD,
    lookbackBars: s.MOMENTUM_LOOKBACK_BARS,
    volatilityWindow: s.VOLATILITY_WINDOW_BARS,
    barsPerDay: Math.max(1, Math.round(DAY_MS / intervalMs)),
    barsPerYear: (365 * DAY_MS) / intervalMs,
  };
}

/** Bars of warm-up before the first FeatureBar of a symbol (and again after a hole). */
export function featureWarmUpBars(s: FeatureSettings): number {
  return new FeatureState(featureParams(s)).warmUp;
}

interface SymbolFeatures {
  state: FeatureState;
  lastTime: number;
}

type FeaturesState = [symbol: string, lastTime: number, state: FeatureStateData][];

/**
 * Computes ATR, lookback return, realised volatility and 24 h change per symbol.
 * Emits: every bar unchanged; after each warm bar, a FeatureBar right after it.
 * After a hole in a symbol's bars (more than MAX_GAP_BARS missing) its indicators start again
 * from nothing: no lookback reaches across time with no data.
 * Throws INVARIANT_TIME_BACKWARDS if a symbol's bars go back in time.
 */
export function featuresStage(s: FeatureSettings): Stage<'bar'> {
  const params = featureParams(s);
  const intervalMs = intervalToMs(s.BAR_INTERVAL);
  const holeMs = (gapLimitBars(s.MAX_GAP_BARS, intervalMs) + 1) * intervalMs;
  return defineStage({
    name: 'features',
    consumes: ['bar'],
    produces: ['features'],
    settings: pickSettings(s, FeatureSettings),
    open(emit: Emit) {
      const states = new Map<string, SymbolFeatures>();
      return {
        next(e: Bar) {
          emit(e);
          let entry = states.get(e.symbol);
          if (entry === undefined) {
            entry = { state: new FeatureState(params), lastTime: -Infinity };
            states.set(e.symbol, entry);
          }
          if (e.time <= entry.lastTime) {
            throw new SapphireError('INVARIANT_TIME_BACKWARDS', `${e.symbol} bar at ${e.time} after ${entry.lastTime}`);
          }
          if (Number.isFinite(entry.lastTime) && e.time - entry.lastTime > holeMs)
            entry.state = new FeatureState(params);
          entry.lastTime = e.time;
          const v = entry.state;
          if (!v.update(e.high, e.low, e.close)) return;
          const out: FeatureBar = {
            kind: 'features',
            time: e.time,
            symbol: e.symbol,
            bar: e,
            atr: v.atr,
            lookbackReturn: v.lookbackReturn,
            volatility: v.volatility,
            change24h: v.change24h,
          };
          emit(out);
        },
        snapshot: (): FeaturesState => [...states].map(([symbol, f]) => [symbol, f.lastTime, f.state.snapshot()]),
        restore(state) {
          states.clear();
          for (const [symbol, lastTime, data] of state as FeaturesState) {
            const f = new FeatureState(params);
            f.restore(data);
            states.set(symbol, { state: f, lastTime });
          }
        },
      };
    },
  });
}

export function features(s: FeatureSettings): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(featuresStage(s));
}
