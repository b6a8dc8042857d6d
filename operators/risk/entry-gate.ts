import type { OrderIntent, SymbolFilters } from '../../pipelines/model/index.ts';
import { marketQuantity } from '../execution/precision.kernel.ts';
import type { PortfolioSettings } from '../portfolio/portfolio.settings.ts';
import { checkEntry } from './risk.kernel.ts';
import type { RiskBook } from './risk-book.ts';
import type { RiskSettings } from './risk.settings.ts';

/** Why an entry was refused: the rule, what it measured and the limit (NaN when not numeric). */
export interface Refusal {
  readonly rule: string;
  readonly detail: string;
  readonly value: number;
  readonly limit: number;
}

export type EntryVerdict = { readonly ok: true; readonly quantity: number } | ({ readonly ok: false } & Refusal);

const refuse = (rule: string, detail: string, value = Number.NaN, limit = Number.NaN): EntryVerdict => ({
  ok: false,
  rule,
  detail,
  value,
  limit,
});

/**
 * The rules that refuse an entry outright, in order: a halt (drawdown or operator), an entry for
 * the symbol still in flight, a position already held, the stop-loss guard's lock, the symbol's
 * cooldown after a stop-out, and a missing reference price (fail closed).
 */
export function entryBlock(
  book: RiskBook,
  i: OrderIntent,
  s: Pick<RiskSettings, 'MAX_DRAWDOWN' | 'COOLDOWN_BARS'>,
  barMs: number,
): EntryVerdict | null {
  const bar = Math.floor(i.time / barMs);
  if (book.state === 'HALTED') {
    return book.haltedBy === 'operator'
      ? refuse('operator-halt', 'trading halted by an operator: exits only')
      : refuse('drawdown-halt', 'drawdown reached MAX_DRAWDOWN: exits only', book.drawdown, s.MAX_DRAWDOWN);
  }
  const pending = book.inFlight.get(i.symbol);
  if (pending !== undefined && !pending.filled)
    return refuse('entry-in-flight', 'an entry for this symbol is not yet filled');
  if (pending !== undefined || book.held(i.symbol) !== undefined)
    return refuse('already-positioned', 'the symbol already has a position');
  if (bar <= book.lockedUntilBar) {
    return refuse('stoploss-guard', 'too many stop-outs in the window: entries locked', book.lockedUntilBar - bar, 0);
  }
  const lastStop = book.lastStopBar.get(i.symbol);
  if (lastStop !== undefined && bar - lastStop < s.COOLDOWN_BARS) {
    return refuse('cooldown', 'bars since the last stop-out on this symbol', bar - lastStop, s.COOLDOWN_BARS);
  }
  if (!(i.refPrice > 0)) return refuse('slippage-guard', 'no valid reference price: fail closed', i.refPrice, 0);
  return null;
}

/**
 * Judges an entry: the blocking rules, then the caps (position risk, portfolio leverage, free
 * margin, concurrency; entries in flight count as filled), scaling the size down to what fits
 * and rounding it to the exchange's step again.
 */
export function judgeEntry(
  book: RiskBook,
  i: OrderIntent,
  s: RiskSettings & Pick<PortfolioSettings, 'LEVERAGE'>,
  barMs: number,
  filters: SymbolFilters | undefined,
): EntryVerdict {
  const blocked = entryBlock(book, i, s, barMs);
  if (blocked !== null) return blocked;
  const check = checkEntry({
    quantity: i.quantity,
    price: i.refPrice,
    stopDistance: i.stopDistance,
    equity: book.equity,
    grossExposure: book.grossExposure,
    pendingExposure: book.pendingExposure,
    marginUsed: book.marginUsed,
    leverage: s.LEVERAGE,
    openPositions: book.positions.length + book.inFlight.size,
    maxPositionRisk: s.MAX_POSITION_RISK,
    maxLeverage: s.MAX_PORTFOLIO_LEVERAGE,
    maxConcurrent: s.MAX_CONCURRENT_POSITIONS,
    sizeScale: book.delevering.has(i.symbol) ? s.AUTO_DELEVER_FACTOR : 1,
  });
  if (!check.ok) return refuse(check.rule, check.detail, check.value, check.limit);
  if (check.quantity >= i.quantity) return { ok: true, quantity: i.quantity };
  const q = filters
    ? marketQuantity(filters, check.quantity, i.refPrice)
    : { ok: true as const, quantity: check.quantity };
  if (!q.ok) return refuse('exchange-filter', `after ${check.notes.join(', ')}: ${q.reason}`);
  return { ok: true, quantity: q.quantity };
}
