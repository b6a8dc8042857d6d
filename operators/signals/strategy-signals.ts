import type { OperatorFunction } from 'rxjs';
import {
  intervalToMs,
  NONE,
  type Denied,
  type FeatureBar,
  type FundingRate,
  type PipelineEvent,
  type Signal,
} from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { gapLimitBars } from '../features/features.kernel.ts';
import type { LoadedStrategy, SignalWish, StrategyInstance } from '../../strategies/kit/contract.ts';
import { indicatorKit } from '../../strategies/kit/indicators.ts';
import { netWishes, type Wish } from './strategy-signals.kernel.ts';

export interface StrategySignalSettings {
  BAR_INTERVAL: string;
  MAX_GAP_BARS: number;
}

export interface StrategySignalDeps {
  /** funding history the strategies may read (sorted by time); none = NaN for every symbol */
  fundingRates?: readonly FundingRate[];
}

interface SymbolState {
  instances: StrategyInstance[];
  /** FeatureBars each instance has seen since it was (re)created */
  seen: number;
  lastBarTime: number;
  held: -1 | 0 | 1;
  /** index of the strategy whose entry signal opened the held position (−1 = unknown) */
  owner: number;
  /** the strategy that spoke last while flat: it owns the next position */
  pendingOwner: number;
  wishes: (Wish | null)[];
}

/** Rates of one symbol in time order, with a cursor that only moves forward (bars come in order). */
function fundingReader(rates: readonly FundingRate[]): (time: number) => number {
  let i = -1;
  return (time) => {
    while (i + 1 < rates.length && rates[i + 1]!.fundingTime <= time) i++;
    return i >= 0 ? rates[i]!.rate : Number.NaN;
  };
}

function checkWish(loaded: LoadedStrategy, f: FeatureBar, w: SignalWish | null): Wish | null {
  if (w === null || w === undefined) return null;
  const strength = w.strength;
  // the usual case first, without building anything (this runs on every bar with a view)
  if ((w.direction === 1 || w.direction === -1) && typeof strength === 'number' && strength >= 0 && strength <= 1)
    return w;
  const where = `strategy ${loaded.strategy.name} (${loaded.origin}) at ${f.symbol} ${new Date(f.time).toISOString()}`;
  if (w.direction !== 1 && w.direction !== -1)
    throw new SapphireError(
      'STRATEGY_INVALID',
      `${where}: onBar returned direction ${String(w.direction)}, expected 1 or -1`,
    );
  throw new SapphireError('STRATEGY_INVALID', `${where}: onBar returned strength ${String(strength)}, expected 0..1`);
}

/** Two strategies want opposite sides of a flat symbol: no entry, said as a denial. */
function disagreement(f: FeatureBar, long: LoadedStrategy, short: LoadedStrategy): Denied {
  return {
    kind: 'denied',
    time: f.time,
    symbol: f.symbol,
    stage: 'signals',
    rule: 'strategies-disagree',
    value: Number.NaN,
    limit: Number.NaN,
    detail: `${long.strategy.name} wants long, ${short.strategy.name} short: no entry`,
    decisionSeq: -1,
  };
}

function signalOf(f: FeatureBar, from: LoadedStrategy, direction: 1 | -1, strength: number): Signal {
  return {
    kind: 'signal',
    time: f.time,
    symbol: f.symbol,
    source: from.strategy.name,
    direction,
    strength,
    price: f.bar.close,
    features: f,
    opinions: NONE,
  };
}

/**
 * Runs the strategies over closed bars and nets their wishes into at most one Signal per symbol
 * and bar (the rule is in strategy-signals.kernel.ts). Each strategy gets its own instance per
 * symbol, created inside the subscription; after a hole in the bars (more than MAX_GAP_BARS
 * missing) every instance starts again, as the features do.
 * Emits: every input unchanged; after a FeatureBar, a Signal (source = the strategy's name) or a
 * Denied (stage signals, rule strategies-disagree) when strategies disagree on a flat symbol.
 * Throws STRATEGY_INVALID when a strategy returns a malformed wish.
 */
export function strategySignals(
  strategies: readonly LoadedStrategy[],
  s: StrategySignalSettings,
  deps: StrategySignalDeps = {},
): OperatorFunction<PipelineEvent, PipelineEvent> {
  const intervalMs = intervalToMs(s.BAR_INTERVAL);
  const holeMs = (gapLimitBars(s.MAX_GAP_BARS, intervalMs) + 1) * intervalMs;
  const warmUps = strategies.map((l) => l.strategy.warmUpBars(l.settings as never));
  const ratesBySymbol = new Map<string, FundingRate[]>();
  for (const r of deps.fundingRates ?? []) {
    let list = ratesBySymbol.get(r.symbol);
    if (list === undefined) ratesBySymbol.set(r.symbol, (list = []));
    list.push(r);
  }
  const createInstances = (symbol: string): StrategyInstance[] =>
    strategies.map((l) => {
      const fundingRate = fundingReader(ratesBySymbol.get(symbol) ?? []);
      return l.strategy.create(l.settings as never, { symbol, indicators: indicatorKit(), fundingRate });
    });

  return defineOperator<PipelineEvent, PipelineEvent>((emit) => {
    const symbols = new Map<string, SymbolState>();
    const stateOf = (symbol: string): SymbolState => {
      let st = symbols.get(symbol);
      if (st === undefined) {
        st = {
          instances: createInstances(symbol),
          seen: 0,
          lastBarTime: Number.NEGATIVE_INFINITY,
          held: 0,
          owner: -1,
          pendingOwner: -1,
          wishes: strategies.map(() => null),
        };
        symbols.set(symbol, st);
      }
      return st;
    };
    const onFeatures = (f: FeatureBar): void => {
      const st = stateOf(f.symbol);
      st.seen++;
      let ownerExits = -1;
      for (let i = 0; i < st.instances.length; i++) {
        const inst = st.instances[i]!;
        const wish = checkWish(strategies[i]!, f, inst.onBar(f));
        st.wishes[i] = st.seen > warmUps[i]! ? wish : null;
      }
      if (st.held !== 0 && st.owner >= 0) {
        const inst = st.instances[st.owner]!;
        if (inst.shouldExit !== undefined && inst.shouldExit(f, st.held)) ownerExits = st.owner;
      }
      const out = netWishes(st.wishes, st.held, ownerExits);
      if (out.kind === 'none') return;
      if (out.kind === 'conflict') {
        const denied = disagreement(f, strategies[out.long]!, strategies[out.short]!);
        emit(denied);
        return;
      }
      if (st.held === 0) st.pendingOwner = out.index;
      const signal = signalOf(f, strategies[out.index]!, out.direction, out.strength);
      emit(signal);
    };
    return {
      next(e) {
        emit(e);
        if (e.kind === 'features') {
          onFeatures(e);
        } else if (e.kind === 'bar') {
          const st = stateOf(e.symbol);
          if (Number.isFinite(st.lastBarTime) && e.time - st.lastBarTime > holeMs) {
            st.instances = createInstances(e.symbol);
            st.seen = 0;
          }
          st.lastBarTime = e.time;
        } else if (e.kind === 'portfolio') {
          for (const st of symbols.values()) st.held = 0;
          for (const p of e.positions) {
            const st = stateOf(p.symbol);
            st.held = p.quantity > 0 ? 1 : p.quantity < 0 ? -1 : 0;
            // the position belongs to the strategy whose signal last spoke while the symbol was flat
            st.owner = st.held === 0 ? -1 : st.pendingOwner;
          }
        }
      },
    };
  });
}
