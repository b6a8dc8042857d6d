import { Observable, Subscriber, type OperatorFunction } from 'rxjs';

export interface OperatorHandler<I> {
  next(event: I): void;
  /** flush at end of input; may still emit */
  complete?(): void;
  /** release resources (inner subscriptions) when the subscription ends */
  teardown?(): void;
}

/**
 * Builds a pipeline operator from a per-subscription handler. `setup` runs once per
 * subscription, so all state it creates is private to that subscription (two tuning trials never
 * share a Map). A throw inside the handler is a broken invariant: it becomes the stream's error
 * instead of escaping as an unhandled exception.
 *
 * Speed: each operator gets its own Subscriber subclass, created here, so the calls on the hot
 * path (`next` → handler) stay monomorphic per stage instead of one shared, megamorphic site
 * for every stage; RxJS takes a Subscriber as is, without wrapping it.
 */
export function defineOperator<I, O>(setup: (emit: (event: O) => void) => OperatorHandler<I>): OperatorFunction<I, O> {
  class StageSubscriber extends Subscriber<I> {
    constructor(
      destination: Subscriber<unknown>,
      private readonly handler: OperatorHandler<I>,
    ) {
      super(destination);
    }

    override next(event: I): void {
      if (this.isStopped) return;
      try {
        this.handler.next(event);
      } catch (error) {
        this.error(error);
      }
    }

    protected override _complete(): void {
      try {
        this.handler.complete?.();
      } catch (error) {
        this.error(error);
        return;
      }
      super._complete();
    }
  }

  return (source) =>
    new Observable<O>((subscriber) => {
      const handler = setup((event: O): void => subscriber.next(event));
      const inner = new StageSubscriber(subscriber, handler);
      source.subscribe(inner);
      return () => {
        inner.unsubscribe();
        handler.teardown?.();
      };
    });
}
