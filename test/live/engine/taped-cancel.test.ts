import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Bar, CancelOrder, Order } from '../../../pipelines/model/index.ts';
import type { ExecutionPort, VenueRequest } from '../../../pipelines/ports.ts';
import { tapedExecution, type VenueTape } from '../../../live/engine/taped-execution.ts';

/**
 * Live mode: an operator's cancel is journaled as the control input that asked for it, so the
 * tape sends it to the exchange when processed live and never on a replay, and never records it
 * as an order (a restart must not mistake it for one sent).
 */

const order: Order = {
  kind: 'order',
  time: 1,
  symbol: 'BTCUSDT',
  clientOrderId: 'sapphire-BTCUSDT-1e',
  side: 'BUY',
  type: 'MARKET',
  quantity: 0.01,
  reduceOnly: false,
  stopPrice: 0,
  refPrice: 100,
  maxSlippageBps: 50,
  reason: 'entry',
};
const cancel: CancelOrder = {
  kind: 'cancel-order',
  time: 2,
  symbol: 'BTCUSDT',
  clientOrderId: 'sapphire-BTCUSDT-1e',
  origin: 'operator',
  reason: 'DELETE /orders/sapphire-BTCUSDT-1e',
};

function run(replaying: boolean) {
  const reached: VenueRequest[] = [];
  const recorded: Order[] = [];
  const duringReplay: Order[] = [];
  const tape: VenueTape = {
    replaying: () => replaying,
    inInput: () => true,
    admit: () => true,
    recordOrder: (o) => recorded.push(o),
    recordEvent: () => undefined,
    takeInInput: () => [],
    setEmitter: () => undefined,
    onOrderDuringReplay: (o) => duringReplay.push(o),
  };
  const inner: ExecutionPort = {
    attach: (requests) => (bars) =>
      new Observable<Bar>((sub) => {
        const a = requests.subscribe((r) => reached.push(r));
        const b = bars.subscribe(sub);
        return () => {
          a.unsubscribe();
          b.unsubscribe();
        };
      }),
  };
  const requests = new Subject<VenueRequest>();
  const sub = new Subject<Bar>().pipe(tapedExecution(inner, tape).attach(requests)).subscribe();
  requests.next(order);
  requests.next(cancel);
  sub.unsubscribe();
  return { reached, recorded, duringReplay };
}

describe('tapedExecution and an operator cancel', () => {
  it('live: the cancel reaches the venue after the order; only the order is recorded', () => {
    const { reached, recorded } = run(false);
    expect(reached).toEqual([order, cancel]);
    expect(recorded).toEqual([order]);
  });

  it('replay: nothing reaches the venue; the order is noted as produced during the replay, the cancel is not', () => {
    const { reached, recorded, duringReplay } = run(true);
    expect(reached).toEqual([]);
    expect(recorded).toEqual([]);
    expect(duringReplay).toEqual([order]);
  });
});
