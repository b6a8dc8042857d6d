import type { OperatorFunction } from 'rxjs';
import type { PipelineEvent, PipelineEventKind } from './model/index.ts';
import { operatorSetup, type OperatorHandler } from './operator-kit.ts';
import { SapphireError } from './errors.ts';
import type { Emit, EventOf, Stage, StageContext, StageHandler } from './stage.ts';

/**
 * How a wrapped operator's state is rebuilt on restore, since it cannot be read out of the
 * operator: by replaying into a fresh instance every consumed event of the `every` kinds (in
 * their order) and the last one of each `last` kind. The operator's state must depend on those
 * events alone (it is deterministic, seeded per subscription): true of the bandit (decisions and
 * closed trades), consensus (the last portfolio) and momentum (nothing).
 */
export interface RebuildFrom {
  readonly every?: readonly PipelineEventKind[];
  readonly last?: readonly PipelineEventKind[];
}

export interface OperatorStageSpec<K extends PipelineEventKind> {
  readonly name: string;
  /** an operator made with defineOperator (its handler runs inside the runner's hop) */
  readonly operator: OperatorFunction<PipelineEvent, PipelineEvent>;
  readonly consumes: readonly K[];
  readonly produces: readonly PipelineEventKind[];
  readonly settings: Readonly<Record<string, unknown>>;
  readonly rebuildFrom: RebuildFrom;
}

interface ReplayState {
  readonly events: PipelineEvent[];
}

/**
 * A stage around an operator whose code another module owns (signals, consensus, allocation):
 * the operator's own handler is called directly — no RxJS hop — and its state is kept as the
 * list of events that rebuilds it (see RebuildFrom), kept only when the run is snapshotted.
 */
export function operatorStage<K extends PipelineEventKind>(spec: OperatorStageSpec<K>): Stage<K> {
  const setup = operatorSetup(spec.operator);
  if (setup === undefined) {
    throw new SapphireError('SETTINGS_INVALID', `stage "${spec.name}": the operator was not made with defineOperator`);
  }
  const every = new Set<string>(spec.rebuildFrom.every ?? []);
  const last = new Set<string>(spec.rebuildFrom.last ?? []);
  return {
    name: spec.name,
    consumes: spec.consumes,
    produces: spec.produces,
    settings: spec.settings,
    open(emit: Emit, context: StageContext): StageHandler<K> {
      // only a run that will be snapshotted keeps the events (a backtest makes ~300k decisions a year)
      const keeps = context.snapshots && (every.size > 0 || last.size > 0);
      let sink: Emit = emit;
      const handler: OperatorHandler<PipelineEvent> = setup((e) => sink(e));
      /** the events that rebuild the state, in order; a `last` kind's older event is replaced */
      let kept: (PipelineEvent | null)[] = [];
      const lastAt = new Map<string, number>();
      const keep = (e: PipelineEvent): void => {
        if (every.has(e.kind)) kept.push(e);
        else if (last.has(e.kind)) {
          const at = lastAt.get(e.kind);
          if (at !== undefined) kept[at] = null;
          lastAt.set(e.kind, kept.length);
          kept.push(e);
        }
      };
      const compact = (): PipelineEvent[] => {
        const events = kept.filter((e): e is PipelineEvent => e !== null);
        kept = events;
        lastAt.clear();
        events.forEach((e, i) => {
          if (last.has(e.kind)) lastAt.set(e.kind, i);
        });
        return events;
      };
      return {
        next(e: EventOf<K>) {
          if (keeps) keep(e);
          handler.next(e);
        },
        complete: () => handler.complete?.(),
        teardown: () => handler.teardown?.(),
        snapshot(): ReplayState {
          if (!keeps && (every.size > 0 || last.size > 0)) {
            throw new SapphireError('JOURNAL_INVALID', `stage "${spec.name}" was opened without snapshots`);
          }
          return { events: compact() };
        },
        restore(state) {
          const events = (state as ReplayState | null)?.events;
          if (!Array.isArray(events)) {
            throw new SapphireError('JOURNAL_INVALID', `stage "${spec.name}": the snapshot holds no event list`);
          }
          sink = () => undefined;
          try {
            for (const e of events) {
              keep(e);
              handler.next(e);
            }
          } finally {
            sink = emit;
          }
        },
      };
    },
  };
}
