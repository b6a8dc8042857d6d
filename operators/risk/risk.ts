import type { OperatorFunction } from 'rxjs';
import type {
  Denied,
  OrderIntent,
  PipelineEvent,
  PositionView,
  RiskStateChanged,
  SymbolFilters,
  TradingState,
} from '../../pipelines/model/index.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { clientOrderId, decisionSeq } from '../execution/client-order-id.ts';
import { marketQuantity } from '../execution/precision.kernel.ts';
import type { ExecutionSettings } from '../execution/execution.settings.ts';
import type { PortfolioSettings } from '../portfolio/portfolio.settings.ts';
import { checkEntry, stopOutsInWindow } from './risk.kernel.ts';
import type { RiskSettings } from './risk.settings.ts';

export interface RiskDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
}

/**
 * The risk stage. Entries are checked against trading state, protections, concurrency, the
 * per-position loss cap and the leverage cap (scaled down or denied, always with a reason);
 * exits and reductions always pass. It also acts on its own:
 * - drawdown ≥ MAX_DRAWDOWN → HALTED: entries refused, every position flattened;
 * - a symbol's realised volatility above the threshold → REDUCING: its position is cut to
 *   AUTO_DELEVER_FACTOR once per episode and new sizes on it are scaled by the same factor.
 * Emits: every input unchanged (intents only once approved), Denied, RiskStateChanged and its
 * own reduce-only intents.
 */
export function risk(
  s: RiskSettings & ExecutionSettings & Pick<PortfolioSettings, 'LEVERAGE'> & { BAR_INTERVAL: string },
  deps: RiskDeps,
): OperatorFunction<PipelineEvent, PipelineEvent> {
  const barMs = intervalToMs(s.BAR_INTERVAL);
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => {
    let state: TradingState = 'ACTIVE';
    /** why HALTED: the drawdown floor, or an operator (halt / emergency stop) */
    let haltedBy: 'drawdown' | 'operator' | null = null;
    /** halt-and-flatten: any position that appears (a late entry fill) is flattened too */
    let flattenAll = false;
    const flattening = new Set<string>();
    let equity = 0;
    let grossExposure = 0;
    let marginUsed = 0;
    let drawdown = 0;
    let positions: readonly PositionView[] = [];
    let time = 0;
    const delevering = new Set<string>();
    const lastStopBar = new Map<string, number>();
    const stopBars: number[] = [];
    let lockedUntilBar = -1;
    /**
     * Entries approved but not yet in the books, by symbol: a second one must not stack on top,
     * and their notional counts against the leverage cap and the margin until a portfolio
     * snapshot includes them (a fill arrives before the snapshot that books it).
     */
    const inFlight = new Map<string, { clientOrderId: string; notional: number; filled: boolean }>();
    let pendingExposure = 0;
    const settle = (symbol: string): void => {
      const p = inFlight.get(symbol);
      if (p === undefined) return;
      inFlight.delete(symbol);
      pendingExposure = inFlight.size === 0 ? 0 : pendingExposure - p.notional;
    };

    const held = (symbol: string): PositionView | undefined => {
      for (const p of positions) if (p.symbol === symbol) return p;
      return undefined;
    };

    const setState = (to: TradingState, reason: string): void => {
      if (to === state) return;
      const change: RiskStateChanged = { kind: 'risk-state', time, from: state, to, reason };
      state = to;
      emit(change);
    };

    const deny = (i: OrderIntent, rule: string, detail: string, value = Number.NaN, limit = Number.NaN): void => {
      const out: Denied = {
        kind: 'denied',
        time: i.time,
        symbol: i.symbol,
        stage: 'risk',
        rule,
        value,
        limit,
        detail,
        decisionSeq: i.decisionSeq,
      };
      emit(out);
    };

    const reduce = (p: PositionView, keepFraction: number, reason: 'delever' | 'halt-flatten', at: number): void => {
      const filters = deps.filters.get(p.symbol);
      const wanted = Math.abs(p.quantity) * (1 - keepFraction);
      const q =
        keepFraction === 0
          ? { ok: true as const, quantity: Math.abs(p.quantity) }
          : filters
            ? marketQuantity(filters, wanted, p.markPrice)
            : null;
      if (q === null || !q.ok) return; // too small to cut: the position stays as it is
      const seq = decisionSeq(at);
      const intent: OrderIntent = {
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
      emit(intent);
    };

    const flattenRemaining = (at: number): void => {
      for (const symbol of flattening) if (held(symbol) === undefined) flattening.delete(symbol);
      for (const p of positions) {
        if (flattening.has(p.symbol)) continue;
        flattening.add(p.symbol);
        reduce(p, 0, 'halt-flatten', at);
      }
    };

    const approveEntry = (i: OrderIntent): void => {
      const bar = Math.floor(i.time / barMs);
      if (state === 'HALTED') {
        return haltedBy === 'operator'
          ? deny(i, 'operator-halt', 'trading halted by an operator: exits only')
          : deny(i, 'drawdown-halt', 'drawdown reached MAX_DRAWDOWN: exits only', drawdown, s.MAX_DRAWDOWN);
      }
      const pending = inFlight.get(i.symbol);
      if (pending !== undefined && !pending.filled)
        return deny(i, 'entry-in-flight', 'an entry for this symbol is not yet filled');
      if (pending !== undefined || held(i.symbol) !== undefined)
        return deny(i, 'already-positioned', 'the symbol already has a position');
      if (bar <= lockedUntilBar) {
        return deny(i, 'stoploss-guard', 'too many stop-outs in the window: entries locked', lockedUntilBar - bar, 0);
      }
      const lastStop = lastStopBar.get(i.symbol);
      if (lastStop !== undefined && bar - lastStop < s.COOLDOWN_BARS) {
        return deny(i, 'cooldown', 'bars since the last stop-out on this symbol', bar - lastStop, s.COOLDOWN_BARS);
      }
      if (!(i.refPrice > 0)) return deny(i, 'slippage-guard', 'no valid reference price: fail closed', i.refPrice, 0);
      const check = checkEntry({
        quantity: i.quantity,
        price: i.refPrice,
        stopDistance: i.stopDistance,
        equity,
        grossExposure,
        pendingExposure,
        marginUsed,
        leverage: s.LEVERAGE,
        openPositions: positions.length + inFlight.size,
        maxPositionRisk: s.MAX_POSITION_RISK,
        maxLeverage: s.MAX_PORTFOLIO_LEVERAGE,
        maxConcurrent: s.MAX_CONCURRENT_POSITIONS,
        sizeScale: delevering.has(i.symbol) ? s.AUTO_DELEVER_FACTOR : 1,
      });
      if (!check.ok) return deny(i, check.rule, check.detail, check.value, check.limit);
      let quantity = i.quantity;
      if (check.quantity < i.quantity) {
        const filters = deps.filters.get(i.symbol);
        const q = filters
          ? marketQuantity(filters, check.quantity, i.refPrice)
          : { ok: true as const, quantity: check.quantity };
        if (!q.ok) return deny(i, 'exchange-filter', `after ${check.notes.join(', ')}: ${q.reason}`);
        quantity = q.quantity;
      }
      const notional = quantity * i.refPrice;
      inFlight.set(i.symbol, { clientOrderId: i.clientOrderId, notional, filled: false });
      pendingExposure += notional;
      emit(quantity === i.quantity ? i : { ...i, quantity });
    };

    return {
      next(e) {
        switch (e.kind) {
          case 'portfolio': {
            emit(e);
            time = e.time;
            equity = e.equity;
            grossExposure = e.grossExposure;
            marginUsed = e.marginUsed;
            // filled entries are in these books now: stop counting them as in flight
            for (const [symbol, p] of inFlight) if (p.filled) settle(symbol);
            drawdown = e.drawdown;
            positions = e.positions;
            if (state !== 'HALTED' && drawdown >= s.MAX_DRAWDOWN) {
              setState(
                'HALTED',
                `drawdown ${(drawdown * 100).toFixed(2)} % reached MAX_DRAWDOWN ${s.MAX_DRAWDOWN * 100} %`,
              );
              haltedBy = 'drawdown';
              flattenAll = true;
            }
            if (flattenAll) flattenRemaining(e.time);
            return;
          }
          case 'command': {
            emit(e);
            time = e.time;
            if (e.command === 'resume') {
              // an operator may lift their own halt; the drawdown floor is lifted only by new settings
              if (state === 'HALTED' && haltedBy === 'operator') {
                haltedBy = null;
                flattenAll = false;
                flattening.clear();
                setState(delevering.size > 0 ? 'REDUCING' : 'ACTIVE', `resumed: ${e.reason}`);
              }
              return;
            }
            if (state !== 'HALTED') haltedBy = 'operator';
            setState('HALTED', `${e.command}: ${e.reason}`);
            if (e.command === 'emergency-stop') {
              flattenAll = true;
              flattenRemaining(e.time);
            }
            return;
          }
          case 'features': {
            emit(e);
            time = e.time;
            if (state === 'HALTED') return;
            const high = e.volatility > s.VOLATILITY_DELEVER_THRESHOLD;
            if (high && !delevering.has(e.symbol)) {
              delevering.add(e.symbol);
              const p = held(e.symbol);
              if (p !== undefined) reduce(p, s.AUTO_DELEVER_FACTOR, 'delever', e.time);
            } else if (!high) {
              delevering.delete(e.symbol);
            }
            setState(
              delevering.size > 0 ? 'REDUCING' : 'ACTIVE',
              delevering.size > 0
                ? `realised volatility above ${s.VOLATILITY_DELEVER_THRESHOLD} on ${[...delevering].join(', ')}`
                : 'volatility back under the delever threshold',
            );
            return;
          }
          case 'fill': {
            emit(e);
            const p = inFlight.get(e.symbol);
            if (p !== undefined && p.clientOrderId === e.clientOrderId) p.filled = true;
            return;
          }
          case 'order-rejected':
            emit(e);
            if (inFlight.get(e.symbol)?.clientOrderId === e.clientOrderId) settle(e.symbol);
            return;
          case 'trade-closed': {
            emit(e);
            // a protective stop that lost money is a stop-out; a trailing stop that locked in profit is not
            if (e.exitReason === 'stop' && e.netPnl < 0) {
              const bar = Math.floor(e.time / barMs);
              lastStopBar.set(e.symbol, bar);
              stopBars.push(bar);
              if (stopBars.length > 256) stopBars.splice(0, stopBars.length - 256);
              if (
                s.STOPLOSS_GUARD_TRADES > 0 &&
                stopOutsInWindow(stopBars, bar, s.STOPLOSS_GUARD_WINDOW_BARS) >= s.STOPLOSS_GUARD_TRADES
              ) {
                lockedUntilBar = bar + s.STOPLOSS_GUARD_LOCK_BARS;
              }
            }
            return;
          }
          case 'intent':
            if (e.reduceOnly) {
              emit(e); // exits and reductions are never blocked
              return;
            }
            return approveEntry(e);
          default:
            emit(e);
        }
      },
    };
  });
}
