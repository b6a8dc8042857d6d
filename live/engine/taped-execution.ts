import { filter, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { Bar, Order } from '../../pipelines/model/index.ts';
import type { ExecutionPort, VenueEvent, VenueRequest, VenueStateHooks } from '../../pipelines/ports.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';

/**
 * What a real venue adds to the journal so a restart can rebuild the book without the exchange
 * replaying anything: every order is recorded BEFORE it is sent, every venue event (fill,
 * rejection) when it arrives, with where it arrived ('in-input' while an input was being
 * processed, else 'between' two inputs). On replay, orders are not sent again and the recorded
 * venue events are put back at the same places. The send path refuses any order whose client
 * order id the journal already holds, so no order can be sent (and filled) twice.
 */
export interface VenueTape {
  replaying(): boolean;
  /** an input (bar, command) is being processed right now */
  inInput(): boolean;
  /** false for an order whose client order id the journal already holds: it is never sent again */
  admit(order: Order): boolean;
  recordOrder(order: Order): void;
  recordEvent(event: VenueEvent, phase: 'in-input' | 'between'): void;
  /** replay: recorded 'in-input' events of the input about to be pushed (drained) */
  takeInInput(): VenueEvent[];
  /** replay: where recorded 'between' events are pushed in */
  setEmitter(emit: ((e: VenueEvent) => void) | null): void;
  /** orders the pipeline produced during replay (sent before, or never sent: those are rejected after it) */
  onOrderDuringReplay(order: Order): void;
}

export function tapedExecution(inner: ExecutionPort, tape: VenueTape): ExecutionPort {
  return {
    attach(orders: Observable<VenueRequest>, state?: VenueStateHooks): OperatorFunction<Bar, Bar | VenueEvent> {
      // an operator's cancel is journaled as the control input that asked for it: it is sent when
      // processed live and never on replay (the exchange's answer was recorded as a venue event)
      const live = orders.pipe(
        filter((o) => {
          if (!tape.replaying()) return true;
          if (o.kind === 'order') tape.onOrderDuringReplay(o);
          return false;
        }),
        filter((o) => o.kind !== 'order' || tape.admit(o)),
        tap((o) => {
          if (o.kind === 'order') tape.recordOrder(o);
        }),
      );
      const inject = defineOperator<Bar | VenueEvent, Bar | VenueEvent>((emit) => {
        tape.setEmitter((e) => emit(e));
        return {
          next(e) {
            if (e.kind === 'bar') {
              if (tape.replaying()) for (const v of tape.takeInInput()) emit(v);
              emit(e);
              return;
            }
            // during replay the real venue has nothing to say (nothing was sent)
            if (tape.replaying()) return;
            tape.recordEvent(e, tape.inInput() ? 'in-input' : 'between');
            emit(e);
          },
          teardown() {
            tape.setEmitter(null);
          },
        };
      });
      return (bars) => bars.pipe(inner.attach(live, state), inject);
    },
  };
}
