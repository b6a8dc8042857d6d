import type { FeatureBar, OperatorCommand, PortfolioSnapshot, TradingState } from '../../pipelines/model/index.ts';
import type { RiskBook } from './risk-book.ts';
import type { RiskSettings } from './risk.settings.ts';

/** A change of trading state the stage announces (RiskStateChanged), or null for none. */
export interface StateChange {
  readonly to: TradingState;
  readonly reason: string;
}

/**
 * The drawdown floor: drawdown ≥ MAX_DRAWDOWN → HALTED and every position flattened, lifted only
 * by new settings (a restart), never by an operator's resume.
 */
export function drawdownHalt(
  book: RiskBook,
  e: PortfolioSnapshot,
  s: Pick<RiskSettings, 'MAX_DRAWDOWN'>,
): StateChange | null {
  if (book.state === 'HALTED' || !(e.drawdown >= s.MAX_DRAWDOWN)) return null;
  book.haltedBy = 'drawdown';
  book.flattenAll = true;
  return {
    to: 'HALTED',
    reason: `drawdown ${(e.drawdown * 100).toFixed(2)} % reached MAX_DRAWDOWN ${s.MAX_DRAWDOWN * 100} %`,
  };
}

/**
 * An operator's command: halt and emergency-stop → HALTED (emergency-stop also flattens); resume
 * lifts an operator's own halt only.
 */
export function operatorCommand(book: RiskBook, e: OperatorCommand): StateChange | null {
  if (e.command === 'resume') {
    if (book.state !== 'HALTED' || book.haltedBy !== 'operator') return null;
    book.haltedBy = null;
    book.flattenAll = false;
    book.flattening.clear();
    return { to: book.delevering.size > 0 ? 'REDUCING' : 'ACTIVE', reason: `resumed: ${e.reason}` };
  }
  if (book.state !== 'HALTED') book.haltedBy = 'operator';
  if (e.command === 'emergency-stop') book.flattenAll = true;
  return { to: 'HALTED', reason: `${e.command}: ${e.reason}` };
}

/**
 * Auto-delever: a symbol's realised volatility above VOLATILITY_DELEVER_THRESHOLD puts it in the
 * delevering set (REDUCING); `cut` is true when its position is to be cut now (once per episode).
 */
export function volatilityDelever(
  book: RiskBook,
  e: FeatureBar,
  s: Pick<RiskSettings, 'VOLATILITY_DELEVER_THRESHOLD'>,
): { change: StateChange; cut: boolean } | null {
  if (book.state === 'HALTED') return null;
  const high = e.volatility > s.VOLATILITY_DELEVER_THRESHOLD;
  let cut = false;
  if (high && !book.delevering.has(e.symbol)) {
    book.delevering.add(e.symbol);
    cut = true;
  } else if (!high) {
    book.delevering.delete(e.symbol);
  }
  const reducing = book.delevering.size > 0;
  return {
    cut,
    change: {
      to: reducing ? 'REDUCING' : 'ACTIVE',
      reason: reducing
        ? `realised volatility above ${s.VOLATILITY_DELEVER_THRESHOLD} on ${[...book.delevering].join(', ')}`
        : 'volatility back under the delever threshold',
    },
  };
}
