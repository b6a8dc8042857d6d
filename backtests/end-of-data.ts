import type { Observable, OperatorFunction } from 'rxjs';
import { defineOperator } from '../pipelines/operator-kit.ts';
import type { Bar, Fill } from '../pipelines/model/index.ts';
import type { ExecutionPort, VenueEvent, VenueRequest } from '../pipelines/ports.ts';
import type { BacktestSettings } from './backtest.settings.ts';
import { slipped } from './fill-model.kernel.ts';

/**
 * The backtest venue's settlement at the end of a series, the way an exchange settles a
 * delisted contract: when the LAST bar of a symbol's data has passed through the venue, a
 * position still open on it is closed at that bar's close, as a taker fill (fee and slippage,
 * kept inside the bar's [low, high]) with reason `end-of-data`. It happens only for the symbols
 * `settle` names: every symbol with `--close-at-end`, and always a symbol whose data ends before
 * the others' (it cannot be marked after its last bar, so holding it on would freeze its price).
 *
 * The fill is emitted before the bar, like any fill at that bar, so the portfolio books it and
 * the bar's snapshot (and the equity row) already includes its fee and slippage.
 */
export interface SeriesEnd {
  /** open time of the symbol's last bar in the run */
  readonly lastOpenTime: number;
  /** settle a position open on that bar */
  readonly settle: boolean;
}

const DUST = 1e-12;

export function withEndOfData(
  venue: ExecutionPort,
  ends: ReadonlyMap<string, SeriesEnd>,
  s: Pick<BacktestSettings, 'TAKER_FEE' | 'SLIPPAGE_BPS'>,
): ExecutionPort {
  return {
    attach(orders: Observable<VenueRequest>): OperatorFunction<Bar, Bar | VenueEvent> {
      const settle = defineOperator<Bar | VenueEvent, Bar | VenueEvent>((emit) => {
        const position = new Map<string, number>();
        return {
          next(e) {
            if (e.kind === 'fill') {
              const q = (position.get(e.symbol) ?? 0) + (e.side === 'BUY' ? e.quantity : -e.quantity);
              position.set(e.symbol, Math.abs(q) < DUST ? 0 : q);
            } else if (e.kind === 'bar') {
              const end = ends.get(e.symbol);
              const held = position.get(e.symbol) ?? 0;
              if (end !== undefined && end.settle && e.openTime === end.lastOpenTime && held !== 0) {
                const side = held > 0 ? 'SELL' : 'BUY';
                const quantity = Math.abs(held);
                const price = Math.min(e.high, Math.max(e.low, slipped(e.close, side, s.SLIPPAGE_BPS)));
                const fill: Fill = {
                  kind: 'fill',
                  time: e.time,
                  symbol: e.symbol,
                  clientOrderId: `end-of-data-${e.symbol}-${e.openTime}`,
                  side,
                  quantity,
                  price,
                  fee: quantity * price * s.TAKER_FEE,
                  liquidity: 'taker',
                  reason: 'end-of-data',
                };
                position.set(e.symbol, 0);
                emit(fill);
              }
            }
            emit(e);
          },
        };
      });
      return (bars) => bars.pipe(venue.attach(orders), settle);
    },
  };
}
