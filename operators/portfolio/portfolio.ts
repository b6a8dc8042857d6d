import type { OperatorFunction } from 'rxjs';
import type {
  Bar,
  Fill,
  FundingPayment,
  PipelineEvent,
  PortfolioSnapshot,
  PositionAdopted,
  TradeClosed,
} from '../../pipelines/model/index.ts';
import { defineStage, pickSettings, type Emit, type Stage } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { Ledger, type ClosedTrade, type LedgerState } from './portfolio.kernel.ts';
import { PortfolioSettings } from './portfolio.settings.ts';
import { maintenanceMargin, type BracketTable } from '../../pipelines/margin/margin.kernel.ts';
import { leverageBrackets } from '../../pipelines/margin/leverage-brackets.ts';

interface PortfolioState {
  ledger: LedgerState;
  changed: boolean;
  lastTime: number;
  explored: string[];
}

/** symbols without brackets (live symbols outside the table) count no maintenance margin */
function maintenanceOf(ledger: Ledger, brackets: BracketTable): number {
  let mm = 0;
  for (const p of ledger.positions.values()) {
    const b = brackets.get(p.symbol);
    if (b !== undefined) mm += maintenanceMargin(b, Math.abs(p.qty) * p.mark);
  }
  return mm;
}

function tradeClosed(t: ClosedTrade, time: number, explored: boolean): TradeClosed {
  const netPnl = t.pnl - t.fees - t.funding;
  return {
    kind: 'trade-closed',
    time,
    symbol: t.symbol,
    side: t.side,
    quantity: t.quantity,
    entryPrice: t.entryPrice,
    exitPrice: t.exitPrice,
    openedAt: t.openedAt,
    pnl: t.pnl,
    fees: t.fees,
    funding: t.funding,
    netPnl,
    returnPct: netPnl / (t.entryPrice * t.quantity),
    exitReason: t.exitReason,
    explored,
  };
}

/**
 * The bot's own books, from venue events: fills, funding, bar closes (marks) and positions taken
 * over from the exchange at a start from it.
 * Emits: fills and funding unchanged (+ TradeClosed when a position returns to flat), and for
 * each bar a PortfolioSnapshot BEFORE the bar itself, so every later stage decides on books that
 * include this bar's fills and marks. When flat and nothing happened the snapshot is skipped:
 * it would be identical to the last one.
 */
export function portfolioStage(
  s: PortfolioSettings,
  deps: { brackets?: BracketTable } = {},
): Stage<'fill' | 'funding' | 'bar' | 'position-adopted'> {
  const brackets = deps.brackets ?? leverageBrackets(s.LEVERAGE_BRACKETS_FILE);
  return defineStage({
    name: 'portfolio',
    consumes: ['fill', 'funding', 'bar', 'position-adopted'],
    produces: ['portfolio', 'trade-closed'],
    settings: pickSettings(s, PortfolioSettings),
    open(emit: Emit) {
      const ledger = new Ledger(s.INITIAL_BALANCE);
      let changed = true;
      let lastTime = -Infinity;
      /** symbols whose open position a bandit exploration opened (the flag rides on the entry fill) */
      const explored = new Set<string>();

      const onFill = (e: Fill): void => {
        emit(e);
        const t = ledger.applyFill(e.symbol, e.side, e.quantity, e.price, e.fee, e.time, e.reason);
        changed = true;
        if (e.reason === 'entry' && t === null) {
          if (e.explored === true) explored.add(e.symbol);
          else explored.delete(e.symbol);
        }
        if (t !== null) emit(tradeClosed(t, e.time, explored.delete(t.symbol)));
      };

      // the book of a start from the exchange is empty; a symbol it holds already (a fill that came
      // in while the exchange was being read) keeps its book, and the engine's comparison with the
      // exchange that follows every take-over halts entries on the difference
      const onAdopted = (e: PositionAdopted): void => {
        const held = ledger.positions.get(e.symbol);
        if (held !== undefined && held.qty !== 0) return;
        emit(e);
        ledger.applyFill(e.symbol, e.side === 'LONG' ? 'BUY' : 'SELL', e.quantity, e.entryPrice, 0, e.time, 'entry');
        explored.delete(e.symbol);
        changed = true;
      };

      const onFunding = (e: FundingPayment): void => {
        emit(e);
        ledger.applyFunding(e.symbol, e.amount);
        changed = true;
      };

      const onBar = (e: Bar): void => {
        if (e.time < lastTime) {
          throw new SapphireError('INVARIANT_TIME_BACKWARDS', `bar ${e.symbol} at ${e.time} after ${lastTime}`);
        }
        lastTime = e.time;
        if (!Number.isFinite(e.close))
          throw new SapphireError('INVARIANT_NAN', `${e.symbol} close at ${e.time} is ${e.close}`);
        const held = ledger.mark(e.symbol, e.close);
        if (changed || held || ledger.positions.size > 0) {
          changed = false;
          const unrealized = ledger.unrealized();
          const equity = ledger.balance + unrealized;
          if (equity > ledger.peakEquity) ledger.peakEquity = equity;
          const gross = ledger.grossExposure();
          const snapshot: PortfolioSnapshot = {
            kind: 'portfolio',
            time: e.time,
            balance: ledger.balance,
            equity,
            peakEquity: ledger.peakEquity,
            drawdown: ledger.peakEquity > 0 ? 1 - equity / ledger.peakEquity : 0,
            realizedPnl: ledger.realized,
            unrealizedPnl: unrealized,
            feesPaid: ledger.fees,
            fundingPaid: ledger.funding,
            grossExposure: gross,
            marginUsed: gross / s.LEVERAGE,
            maintenanceMargin: maintenanceOf(ledger, brackets),
            positions: ledger.views(),
          };
          emit(snapshot);
        }
        emit(e);
      };

      return {
        next(e) {
          if (e.kind === 'bar') onBar(e);
          else if (e.kind === 'fill') onFill(e);
          else if (e.kind === 'funding') onFunding(e);
          else onAdopted(e);
        },
        snapshot: (): PortfolioState => ({ ledger: ledger.snapshot(), changed, lastTime, explored: [...explored] }),
        restore(state) {
          const st = state as PortfolioState;
          ledger.restore(st.ledger);
          changed = st.changed;
          lastTime = st.lastTime;
          explored.clear();
          for (const symbol of st.explored) explored.add(symbol);
        },
      };
    },
  });
}

export function portfolio(
  s: PortfolioSettings,
  deps: { brackets?: BracketTable } = {},
): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(portfolioStage(s, deps));
}
