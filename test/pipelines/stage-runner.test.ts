import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, Subject, toArray, type Observable } from 'rxjs';
import type { PipelineEvent, PipelineEventKind } from '../../pipelines/model/index.ts';
import { runStages, stageOperator } from '../../pipelines/stage-runner.ts';
import { NO_STATE, type AnyStage, type Emit } from '../../pipelines/stage.ts';

/** a bare event of a kind, told apart by `n` (the runner reads only `kind`) */
const ev = (kind: PipelineEventKind, n: number): PipelineEvent => ({ kind, time: n, n }) as unknown as PipelineEvent;
const label = (e: PipelineEvent): string => `${e.kind}#${(e as unknown as { n: number }).n}`;

function stage(
  name: string,
  consumes: PipelineEventKind[],
  onEvent: (e: PipelineEvent, emit: Emit) => void,
  complete?: (emit: Emit) => void,
): AnyStage {
  return {
    name,
    consumes,
    produces: [],
    settings: {},
    open: (emit) => ({
      next: ((e: PipelineEvent) => onEvent(e, emit)) as (e: never) => void,
      complete: complete ? () => complete(emit) : undefined,
      ...NO_STATE,
    }),
  };
}

/**
 * Stages that do what real ones do: emit before and after the event they pass on, pass on one of
 * several kinds, hold an event back and emit it on a later one, and flush at the end.
 */
function toyStages(): AnyStage[] {
  let held: PipelineEvent | null = null;
  return [
    stage('features', ['bar'], (e, emit) => {
      emit(e);
      emit(ev('features', (e as unknown as { n: number }).n));
    }),
    stage(
      'holder',
      ['features', 'portfolio'],
      (e, emit) => {
        if (e.kind === 'portfolio') return emit(e);
        if (held !== null) emit(held);
        held = e;
        emit(ev('signal', (e as unknown as { n: number }).n));
      },
      (emit) => {
        if (held !== null) emit(held);
      },
    ),
    stage('decider', ['signal', 'bar'], (e, emit) => {
      if (e.kind === 'signal') emit(ev('decision', (e as unknown as { n: number }).n));
      emit(e);
    }),
  ];
}

const collect = (o: Observable<PipelineEvent>): Promise<string[]> =>
  lastValueFrom(o.pipe(toArray())).then((events) => events.map(label));

describe('the stage runner', () => {
  const input = [ev('bar', 1), ev('portfolio', 1), ev('bar', 2), ev('funding', 2), ev('bar', 3)];

  it('gives the output of the same stages chained one operator each, event for event', async () => {
    const fused = await collect(from(input).pipe(runStages(toyStages())));
    const [a, b, c] = toyStages();
    const chained = await collect(from(input).pipe(stageOperator(a!), stageOperator(b!), stageOperator(c!)));
    expect(fused).toEqual(chained);
    // a held event comes out a bar later; kinds nobody consumes go straight through
    expect(fused).toEqual([
      'bar#1',
      'decision#1',
      'signal#1',
      'portfolio#1',
      'bar#2',
      'features#1',
      'decision#2',
      'signal#2',
      'funding#2',
      'bar#3',
      'features#2',
      'decision#3',
      'signal#3',
      'features#3',
    ]);
  });

  it('routes an event injected while a stage is busy, and the busy event after it, where they belong', async () => {
    const control = new Subject<PipelineEvent>();
    const stages = [
      stage('first', ['bar'], (e, emit) => emit(e)),
      stage('busy', ['bar', 'command'], (e, emit) => {
        // a control event arriving synchronously in the middle of this stage's bar
        if (e.kind === 'bar') control.next(ev('command', (e as unknown as { n: number }).n));
        emit(e);
      }),
      stage('last', ['bar'], (e, emit) => {
        emit(e);
        emit(ev('order', (e as unknown as { n: number }).n));
      }),
    ];
    const bars = new Subject<PipelineEvent>();
    const out: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      bars
        .pipe(runStages(stages, { inject: { at: 'busy', events: control } }))
        .subscribe({ next: (e) => out.push(label(e)), error: reject, complete: resolve });
    });
    bars.next(ev('bar', 1));
    bars.next(ev('bar', 2));
    bars.complete();
    control.complete();
    await done;
    expect(out).toEqual(['command#1', 'bar#1', 'order#1', 'command#2', 'bar#2', 'order#2']);
  });
});
