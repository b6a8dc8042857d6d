import type { TradeClosed } from '../../pipelines/model/index.ts';
import { stopOutsInWindow } from './risk.kernel.ts';
import { STOP_HISTORY, type RiskBook } from './risk-book.ts';
import type { RiskSettings } from './risk.settings.ts';

type StopOutSettings = Pick<
  RiskSettings,
  'STOPLOSS_GUARD_TRADES' | 'STOPLOSS_GUARD_WINDOW_BARS' | 'STOPLOSS_GUARD_LOCK_BARS'
>;

/**
 * Records a closed trade for the cooldown and the stop-loss guard. A protective stop that lost
 * money is a stop-out; a trailing stop that locked in profit is not. STOPLOSS_GUARD_TRADES
 * stop-outs within STOPLOSS_GUARD_WINDOW_BARS lock every entry for STOPLOSS_GUARD_LOCK_BARS.
 */
export function recordStopOut(book: RiskBook, e: TradeClosed, s: StopOutSettings, barMs: number): void {
  if (e.exitReason !== 'stop' || !(e.netPnl < 0)) return;
  const bar = Math.floor(e.time / barMs);
  book.lastStopBar.set(e.symbol, bar);
  book.stopBars.push(bar);
  if (book.stopBars.length > STOP_HISTORY) book.stopBars.splice(0, book.stopBars.length - STOP_HISTORY);
  if (
    s.STOPLOSS_GUARD_TRADES > 0 &&
    stopOutsInWindow(book.stopBars, bar, s.STOPLOSS_GUARD_WINDOW_BARS) >= s.STOPLOSS_GUARD_TRADES
  ) {
    book.lockedUntilBar = bar + s.STOPLOSS_GUARD_LOCK_BARS;
  }
}
