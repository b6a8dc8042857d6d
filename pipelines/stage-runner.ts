import { Observable, type OperatorFunction } from 'rxjs';
import type { PipelineEvent, PipelineEventKind } from './model/index.ts';
import type { AnyStage, AnyStageHandler, Emit, StageState } from './stage.ts';
import { SapphireError } from './errors.ts';

/** The states of a run's stages, by stage name. */
export type StageStates = Record<string, StageState>;

/** A running subscription's stages, as the journal store sees them. */
export interface RunningStages {
  /** every stage's state now, by stage name (JSON data) */
  snapshot(): StageStates;
}

export interface RunStagesOptions {
  /** states to put back into the fresh stages before the first event (a restart from a snapshot) */
  restore?: StageStates;
  /** called once per subscription with the running stages (for periodic snapshots) */
  onOpen?: (running: RunningStages) => void;
  /**
   * Events that join the run at a given stage rather than at the first one (operator commands and
   * external decisions join after the signal stages). The run completes when both inputs have.
   */
  inject?: { at: string; events: Observable<PipelineEvent> };
}

type Deliver = (event: PipelineEvent) => void;
/**
 * Deliver by kind. A Map, not a plain object: kind strings come from events of many shapes, and a
 * keyed load from an object on such a varied path costs several times a Map lookup (callgrind).
 */
type Routes = ReadonlyMap<string, Deliver>;

/** Every kind a pipeline event can have: the routing tables hold one entry per kind. */
const ALL_KINDS: readonly PipelineEventKind[] = [
  'bar',
  'features',
  'signal',
  'decision',
  'allocated',
  'intent',
  'protect',
  'order',
  'fill',
  'order-rejected',
  'funding',
  'portfolio',
  'trade-closed',
  'denied',
  'risk-state',
  'command',
  'cancel-order',
  'agent-fault',
  'position-adopted',
];

/**
 * Routing tables: `routes[i][kind]` delivers an event of that kind to the first stage at index
 * ≥ i that consumes it, or to the output when none does. A stage's emit looks up `routes[i + 1]`,
 * so an event travels depth-first exactly as through a chain of operators — the order every stage
 * sees is the chain's order — but skips, in one lookup, the stages that would only pass it on.
 */
function buildRoutes(handlers: readonly AnyStageHandler[], stages: readonly AnyStage[], out: Deliver): Routes[] {
  const routes: Routes[] = new Array<Routes>(stages.length + 1);
  let next: Routes = new Map(ALL_KINDS.map((kind) => [kind, out]));
  routes[stages.length] = next;
  for (let i = stages.length - 1; i >= 0; i--) {
    const handler = handlers[i]!;
    const consumed = new Set<string>(stages[i]!.consumes);
    const deliver: Deliver = (e) => handler.next(e as never);
    const after = next;
    const here: Routes = new Map(ALL_KINDS.map((kind) => [kind, consumed.has(kind) ? deliver : after.get(kind)!]));
    routes[i] = here;
    next = here;
  }
  return routes;
}

/**
 * A stage's emit, bound to its routing table once every handler is open: one keyed lookup per
 * event (the table sits in the closure, not behind an array index).
 */
function routedEmit(): { emit: Emit; bind(table: Routes): void } {
  let table: Routes | null = null;
  return {
    emit: (e) => table!.get(e.kind)!(e),
    bind(t) {
      table = t;
    },
  };
}

function checkUnique(stages: readonly AnyStage[]): void {
  const seen = new Set<string>();
  for (const s of stages) {
    if (seen.has(s.name)) throw new SapphireError('SETTINGS_INVALID', `stage "${s.name}" appears twice in one run`);
    seen.add(s.name);
  }
}

/**
 * ONE operator for a run of stages: each input event is routed only to the stages that consume
 * its kind, and what a stage emits goes on to the next consumer by a direct call, so the whole
 * run costs one RxJS hop per event instead of one per stage. State is per subscription (each
 * subscription opens fresh handlers). A throw inside a stage is a broken invariant: it becomes
 * the stream's error and nothing after it runs.
 */
export function runStages(
  stages: readonly AnyStage[],
  options: RunStagesOptions = {},
): OperatorFunction<PipelineEvent, PipelineEvent> {
  checkUnique(stages);
  const injectAt = options.inject ? stages.findIndex((s) => s.name === options.inject!.at) : 0;
  if (injectAt < 0) throw new SapphireError('SETTINGS_INVALID', `no stage "${options.inject!.at}" to inject events at`);
  return (source) =>
    new Observable<PipelineEvent>((subscriber) => {
      let stopped = false;
      const out: Deliver = (e) => subscriber.next(e);
      const handlers: AnyStageHandler[] = [];
      // each emitter is bound to its table once `routes` exists, which needs every handler open
      const emitters: ReturnType<typeof routedEmit>[] = [];
      const context = { snapshots: options.onOpen !== undefined || options.restore !== undefined };
      for (let i = 0; i < stages.length; i++) {
        const emitter = routedEmit();
        emitters.push(emitter);
        handlers.push(stages[i]!.open(emitter.emit, context));
      }
      const routes = buildRoutes(handlers, stages, out);
      for (let i = 0; i < stages.length; i++) emitters[i]!.bind(routes[i + 1]!);
      if (options.restore) restoreStages(stages, handlers, options.restore);
      options.onOpen?.({ snapshot: () => snapshotStages(stages, handlers) });

      const fail = (error: unknown): void => {
        if (stopped) return;
        stopped = true;
        subscriber.error(error);
      };
      const entry = routes[0]!;
      const injected = routes[injectAt]!;
      let open = options.inject ? 2 : 1;
      const finish = (): void => {
        if (stopped || --open > 0) return;
        try {
          for (const h of handlers) h.complete?.();
        } catch (error) {
          fail(error);
          return;
        }
        stopped = true;
        subscriber.complete();
      };
      const input = (table: Routes) => ({
        next(e: PipelineEvent): void {
          if (stopped) return;
          try {
            table.get(e.kind)!(e);
          } catch (error) {
            fail(error);
          }
        },
        error: fail,
        complete: finish,
      });
      const main = source.subscribe(input(entry));
      const side = options.inject?.events.subscribe(input(injected));
      return () => {
        stopped = true;
        main.unsubscribe();
        side?.unsubscribe();
        for (const h of handlers) h.teardown?.();
      };
    });
}

function snapshotStages(stages: readonly AnyStage[], handlers: readonly AnyStageHandler[]): StageStates {
  const states: StageStates = {};
  for (let i = 0; i < stages.length; i++) {
    states[stages[i]!.name] = handlers[i]!.snapshot();
  }
  return states;
}

function restoreStages(stages: readonly AnyStage[], handlers: readonly AnyStageHandler[], states: StageStates): void {
  for (let i = 0; i < stages.length; i++) {
    const name = stages[i]!.name;
    if (!(name in states)) throw new SapphireError('JOURNAL_INVALID', `the snapshot has no state for stage "${name}"`);
    handlers[i]!.restore(states[name]);
  }
}

/** One stage as an operator of its own (tests, and the exported operator of each stage file). */
export function stageOperator(stage: AnyStage): OperatorFunction<PipelineEvent, PipelineEvent> {
  return runStages([stage]);
}
