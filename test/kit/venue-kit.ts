import { Observable, Subject } from 'rxjs';
import { makeBar, type Bar, type BarColumns, type Order } from '../../pipelines/model/index.ts';
import type { VenueEvent, VenueRequest } from '../../pipelines/ports.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { filtersFor } from '../../pipelines/instruments.ts';

/** Helpers that run the backtest venue alone over real bars, with orders placed by hand. */

export function barsOf(c: BarColumns, from = 0, to = c.length): Bar[] {
  const out: Bar[] = [];
  for (let i = from; i < to; i++)
    out.push(
      makeBar(c.symbol, c.openTime[i]!, c.intervalMs, c.open[i]!, c.high[i]!, c.low[i]!, c.close[i]!, c.volume[i]!),
    );
  return out;
}

/** Runs the venue alone: `after(i)` gives the orders decided at the close of bar i. */
export function driveVenue(
  settings: Parameters<typeof simulatedVenue>[0],
  bars: readonly Bar[],
  after: (i: number, bar: Bar) => VenueRequest[],
): (Bar | VenueEvent)[] {
  const orders = new Subject<VenueRequest>();
  const source = new Observable<Bar>((sub) => {
    bars.forEach((b, i) => {
      sub.next(b);
      for (const o of after(i, b)) orders.next(o);
    });
    sub.complete();
  });
  const out: (Bar | VenueEvent)[] = [];
  source
    .pipe(simulatedVenue(settings, { filters: filtersFor([...new Set(bars.map((b) => b.symbol))]) }).attach(orders))
    .subscribe((e) => out.push(e));
  return out;
}

let seq = 0;
export function order(p: Partial<Order> & Pick<Order, 'time' | 'symbol' | 'side' | 'type'>): Order {
  return {
    kind: 'order',
    clientOrderId: `t${++seq}`,
    quantity: 0,
    reduceOnly: p.type !== 'MARKET',
    stopPrice: 0,
    refPrice: 0,
    maxSlippageBps: 0,
    reason: p.type === 'MARKET' ? 'entry' : 'stop',
    ...p,
  };
}
