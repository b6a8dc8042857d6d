import { Observable, type OperatorFunction } from 'rxjs';

export interface OperatorHandler<I> {
  next(event: I): void;
  /** flush at end of input; may still emit */
  complete?(): void;
  /** release resources (inner subscriptions) when the subscription ends */
  teardown?(): void;
}

export type OperatorSetup<I, O> = (emit: (event: O) => void) => OperatorHandler<I>;

const SETUP = Symbol('sapphire.operator-setup');

/** An operator built by defineOperator: it keeps its setup, so the stage runner can call it directly. */
export type DefinedOperator<I, O> = OperatorFunction<I, O> & { readonly [SETUP]: OperatorSetup<I, O> };

/**
 * Builds a pipeline operator from a per-subscription handler. `setup` runs once per
 * subscription, so all state it creates is private to that subscription (two tuning trials never
 * share a Map). A throw inside the handler is a broken invariant: it becomes the stream's error
 * instead of escaping as an unhandled exception, and nothing more reaches the handler.
 *
 * The source is subscribed with a plain observer (no Subscriber subclass: its constructor is
 * deprecated in RxJS 7.8 and internal in 8). The setup stays reachable (operatorSetup) so that
 * the stage runner can run the handler inside its single hop instead of one hop per operator.
 */
export function defineOperator<I, O>(setup: OperatorSetup<I, O>): DefinedOperator<I, O> {
  const operator: OperatorFunction<I, O> = (source) =>
    new Observable<O>((subscriber) => {
      let stopped = false;
      const handler = setup((event: O): void => subscriber.next(event));
      const fail = (error: unknown): void => {
        if (stopped) return;
        stopped = true;
        subscriber.error(error);
      };
      const inner = source.subscribe({
        next(event) {
          if (stopped) return;
          try {
            handler.next(event);
          } catch (error) {
            fail(error);
          }
        },
        error: fail,
        complete() {
          if (stopped) return;
          try {
            handler.complete?.();
          } catch (error) {
            fail(error);
            return;
          }
          stopped = true;
          subscriber.complete();
        },
      });
      return () => {
        stopped = true;
        inner.unsubscribe();
        handler.teardown?.();
      };
    });
  return Object.assign(operator, { [SETUP]: setup });
}

/** The per-subscription setup of an operator made by defineOperator; undefined for any other operator. */
export function operatorSetup<I, O>(operator: OperatorFunction<I, O>): OperatorSetup<I, O> | undefined {
  return (operator as Partial<DefinedOperator<I, O>>)[SETUP];
}
