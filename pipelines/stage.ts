import type { PipelineEvent, PipelineEventKind } from './model/index.ts';

/** The event of one kind (or of a union of kinds). */
export type EventOf<K extends PipelineEventKind> = Extract<PipelineEvent, { kind: K }>;

export type Emit = (event: PipelineEvent) => void;

/** A stage's state as plain JSON data: what a snapshot record stores and `restore` reads back. */
export type StageState = unknown;

/**
 * One subscription's instance of a stage. `next` receives only the kinds the stage consumes; it
 * must emit each of them on (or consume it on purpose) and may emit its own events before or
 * after. Every other kind goes past the stage untouched, in the same place of the order.
 */
export interface StageHandler<K extends PipelineEventKind> {
  next(event: EventOf<K>): void;
  /** flush at end of input; may still emit */
  complete?(): void;
  /** release resources (inner subscriptions) when the subscription ends */
  teardown?(): void;
  /** the per-subscription state, as JSON data; `null` for a stage with none */
  snapshot(): StageState;
  /** puts a state taken by `snapshot` back (on a fresh instance, before any event) */
  restore(state: StageState): void;
}

/**
 * A stage of the pipeline with its contract: its name, the kinds it consumes (the runner routes
 * only those to it), the kinds it produces, the settings it reads (the fragment that goes into a
 * snapshot's fingerprint) and, per subscription, its state.
 */
export interface Stage<K extends PipelineEventKind = PipelineEventKind> {
  readonly name: string;
  readonly consumes: readonly K[];
  readonly produces: readonly PipelineEventKind[];
  /** the values of every setting the stage reads, by name */
  readonly settings: Readonly<Record<string, unknown>>;
  open(emit: Emit, context: StageContext): StageHandler<K>;
}

/** What a stage is told when a subscription opens it. */
export interface StageContext {
  /** the run will be snapshotted (a live journal): stages that must keep extra data to do so do */
  readonly snapshots: boolean;
}

/**
 * A stage of whatever kinds, as the runner holds them: the runner only hands a stage the kinds
 * its `consumes` lists, which the types of one list of mixed stages cannot say.
 */
export interface AnyStage {
  readonly name: string;
  readonly consumes: readonly PipelineEventKind[];
  readonly produces: readonly PipelineEventKind[];
  readonly settings: Readonly<Record<string, unknown>>;
  open(emit: Emit, context: StageContext): AnyStageHandler;
}

export interface AnyStageHandler extends Omit<StageHandler<never>, 'next'> {
  next(event: never): void;
}

export function defineStage<K extends PipelineEventKind>(stage: Stage<K>): Stage<K> {
  return stage;
}

/** The values of `names` in `settings`: a stage's settings fragment. */
export function pickSettings(
  settings: object,
  ...fragments: readonly (readonly string[] | { readonly shape: object })[]
): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const source = settings as Record<string, unknown>;
  for (const f of fragments) {
    const names = 'shape' in f ? Object.keys(f.shape) : f;
    for (const name of names) if (name in source) out[name] = source[name];
  }
  return out;
}

/** A stateless stage's snapshot/restore pair. */
export const NO_STATE = {
  snapshot: (): StageState => null,
  restore: (): void => undefined,
} as const;

/** Maps keyed by symbol, as JSON entries (snapshots keep insertion order, which stages iterate in). */
export function mapToEntries<V, J>(map: ReadonlyMap<string, V>, toJson: (v: V) => J): [string, J][] {
  const out: [string, J][] = [];
  for (const [k, v] of map) out.push([k, toJson(v)]);
  return out;
}

export function entriesToMap<J, V>(entries: unknown, fromJson: (j: J) => V, target: Map<string, V>): void {
  target.clear();
  for (const [k, j] of entries as [string, J][]) target.set(k, fromJson(j));
}

/**
 * Stage states to JSON text and back. Numbers JSON cannot hold (±Infinity, NaN: a `lastTime` of
 * −Infinity, a denial's NaN value) travel as {"$num": "…"} so a restore gets them back exactly.
 */
export function statesToJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v,
  );
}

export function statesFromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const n = (v as { $num?: unknown }).$num;
      if (typeof n === 'string' && Object.keys(v).length === 1) return Number(n);
    }
    return v;
  });
}
