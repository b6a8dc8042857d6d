import { describe, expect, it, beforeAll } from 'vitest';
import { concat, from, lastValueFrom, Subject, throwError, toArray, type OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { features } from '../../operators/features/features.ts';
import { momentum } from '../../operators/signals/momentum.ts';
import { consensus } from '../../operators/consensus/consensus.ts';
import { strategySignals } from '../../operators/signals/strategy-signals.ts';
import { resolveStrategies } from '../../strategies/registry.ts';
import { banditAllocation } from '../../operators/allocation/bandit.ts';
import { sizing } from '../../operators/sizing/sizing.ts';
import { risk } from '../../operators/risk/risk.ts';
import { trailingStop } from '../../operators/stops/trailing-stop.ts';
import { execution } from '../../operators/execution/execution.ts';
import { portfolio } from '../../operators/portfolio/portfolio.ts';
import { embeddedAgentStage } from '../../operators/agents/agents.ts';
import { pipelineStages } from '../../pipelines/build-pipeline.ts';
import { runStages, type RunningStages, type StageStates } from '../../pipelines/stage-runner.ts';
import { statesFromJson, statesToJson, type AnyStage } from '../../pipelines/stage.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { activeSettings, runFixture } from '../kit/pipeline-kit.ts';

type Op = OperatorFunction<PipelineEvent, PipelineEvent>;
const settings = activeSettings({ BANDIT_EPSILON: 0.5 });
const filters = filtersFor(settings.SYMBOLS);

/** each operator, how to make a fresh one, and the kinds it produces itself */
const operators: {
  name: string;
  make: () => Op;
  produces: PipelineEvent['kind'][];
  warmsUpOn?: PipelineEvent['kind'];
}[] = [
  { name: 'portfolio', make: () => portfolio(settings), produces: ['portfolio', 'trade-closed'] },
  { name: 'features', make: () => features(settings), produces: ['features'], warmsUpOn: 'bar' },
  { name: 'momentum', make: () => momentum(settings), produces: ['signal'], warmsUpOn: 'features' },
  { name: 'consensus', make: () => consensus(settings), produces: ['decision', 'denied'], warmsUpOn: 'signal' },
  { name: 'bandit', make: () => banditAllocation(settings), produces: ['allocated', 'denied'], warmsUpOn: 'decision' },
  { name: 'sizing', make: () => sizing(settings, { filters }), produces: ['intent', 'denied'], warmsUpOn: 'decision' },
  {
    name: 'risk',
    make: () => risk(settings, { filters }),
    produces: ['intent', 'denied', 'risk-state'],
    warmsUpOn: 'portfolio',
  },
  { name: 'stops', make: () => trailingStop(settings), produces: ['protect'], warmsUpOn: 'intent' },
  {
    name: 'execution',
    make: () => execution(settings, { submit: () => undefined, maxSlippageBps: 25 }),
    produces: ['order'],
    warmsUpOn: 'intent',
  },
  // agents hand each signal on as a new signal carrying their opinions: no warm-up to compare
  { name: 'agents', make: () => embeddedAgentStage(settings), produces: ['signal', 'agent-fault'] },
];

let recorded: PipelineEvent[] = [];

beforeAll(async () => {
  recorded = await runFixture(settings);
});

const run = (op: Op, input: readonly PipelineEvent[]) => lastValueFrom(from(input).pipe(op, toArray()));

describe('the recorded stream the contract feeds every operator', () => {
  it('exercises every stage: decisions, orders, fills, trailing stops and closed trades', () => {
    const kinds = new Set(recorded.map((e) => e.kind));
    for (const k of [
      'features',
      'signal',
      'decision',
      'allocated',
      'intent',
      'protect',
      'order',
      'fill',
      'trade-closed',
      'portfolio',
    ])
      expect(kinds, k).toContain(k);
    expect(recorded.some((e) => e.kind === 'protect' && e.cause === 'trail')).toBe(true);
  });
});

describe.each(operators)('operator contract: $name', ({ make, produces, warmsUpOn }) => {
  it('gives the same output for the same input', async () => {
    const a = await run(make(), recorded);
    const b = await run(make(), recorded);
    expect(a.length).toBeGreaterThan(recorded.length - 1);
    expect(b).toEqual(a);
  });

  it('keeps two simultaneous subscriptions isolated', async () => {
    const solo = await run(make(), recorded);
    const source = new Subject<PipelineEvent>();
    const op = make();
    const left: PipelineEvent[] = [];
    const right: PipelineEvent[] = [];
    source.pipe(op).subscribe((e) => left.push(e));
    source.pipe(op).subscribe((e) => right.push(e));
    for (const e of recorded) source.next(e);
    source.complete();
    expect(left).toEqual(solo);
    expect(right).toEqual(solo);
  });

  it('propagates an upstream error and stops', async () => {
    const boom = new Error('upstream failed');
    const out: PipelineEvent[] = [];
    await expect(
      lastValueFrom(
        concat(
          from(recorded.slice(0, 500)),
          throwError(() => boom),
        ).pipe(make(), toArray()),
      ),
    ).rejects.toBe(boom);
    from(recorded.slice(0, 10))
      .pipe(make())
      .subscribe((e) => out.push(e));
    expect(out.length).toBeGreaterThanOrEqual(10);
  });

  it('completes when its input completes', async () => {
    let completed = false;
    from(recorded.slice(0, 50))
      .pipe(make())
      .subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
  });

  it('emits nothing of its own before it has what it needs (warm-up)', async () => {
    if (warmsUpOn === undefined) return;
    const out = await run(make(), recorded);
    const inputs = new Set(recorded);
    const firstOwn = out.findIndex((e) => produces.includes(e.kind) && !inputs.has(e));
    const firstNeeded = out.findIndex((e) => e.kind === warmsUpOn);
    // risk approves by passing the intent itself on: on calm data it adds nothing of its own
    if (produces.includes('risk-state')) expect(firstOwn === -1 || firstOwn > firstNeeded).toBe(true);
    else expect(firstOwn).toBeGreaterThan(firstNeeded);
    expect(firstNeeded).toBeGreaterThan(-1);
  });
});

describe('features warm-up', () => {
  it('emits no FeatureBar for a symbol before its warm-up bars are in', async () => {
    const out = await run(
      features(settings),
      recorded.filter((e) => e.kind === 'bar'),
    );
    for (const symbol of settings.SYMBOLS) {
      const idx = out.findIndex((e) => e.kind === 'features' && e.symbol === symbol);
      const barsBefore = out.slice(0, idx).filter((e) => e.kind === 'bar' && e.symbol === symbol).length;
      expect(barsBefore).toBe(289); // max(ATR 15, lookback 49, 24 h 289, volatility 49)
    }
  });
});

/** every stage of the pipeline, as buildPipeline builds them */
const allStages = (): AnyStage[] => {
  const { signals, decisions } = pipelineStages(settings, { filters }, () => undefined);
  return [...signals, ...decisions];
};

/** runs `stage` alone over `input`, snapshotting after each index in `at` */
function runWithSnapshots(
  stage: AnyStage,
  input: readonly PipelineEvent[],
  at: readonly number[],
  restore?: StageStates,
): { out: PipelineEvent[]; outLengthAt: number[]; states: string[]; opened: string } {
  let running: RunningStages | undefined;
  let opened = '';
  const source = new Subject<PipelineEvent>();
  const out: PipelineEvent[] = [];
  const outLengthAt: number[] = [];
  const states: string[] = [];
  source
    .pipe(
      runStages([stage], {
        onOpen: (r) => {
          running = r;
          opened = statesToJson(r.snapshot());
        },
        restore,
      }),
    )
    .subscribe((e) => out.push(e));
  input.forEach((e, i) => {
    source.next(e);
    if (at.includes(i + 1)) {
      outLengthAt.push(out.length);
      states.push(statesToJson(running!.snapshot()));
    }
  });
  source.complete();
  return { out, outLengthAt, states, opened };
}

describe.each(allStages().map((stage) => ({ name: stage.name, stage })))('stage contract: $name', ({ name }) => {
  const fresh = (): AnyStage => allStages().find((s) => s.name === name)!;

  it('emits only the kinds it declares, and passes every event it does not consume untouched, in place', () => {
    const stage = fresh();
    const { out } = runWithSnapshots(stage, recorded, []);
    const inputs = new Set(recorded);
    for (const e of out) if (!inputs.has(e)) expect(stage.produces, `${name} emitted ${e.kind}`).toContain(e.kind);
    const consumed = new Set<string>(stage.consumes);
    const passedOn = out.filter((e) => inputs.has(e) && !consumed.has(e.kind));
    expect(passedOn).toEqual(recorded.filter((e) => !consumed.has(e.kind)));
  });

  it('declares a settings fragment that names only real settings', () => {
    const stage = fresh();
    expect(Object.keys(stage.settings).length).toBeGreaterThan(0);
    for (const key of Object.keys(stage.settings)) expect(settings, key).toHaveProperty(key);
  });

  it('restored from a snapshot (through JSON) goes on exactly as if never stopped', () => {
    // cuts all through the run: flat and positioned, before and after stop-outs
    const cuts = Array.from({ length: 12 }, (_, k) => Math.floor((recorded.length * (k + 1)) / 13));
    const whole = runWithSnapshots(fresh(), recorded, cuts);
    cuts.forEach((cut, k) => {
      const restored = runWithSnapshots(
        fresh(),
        recorded.slice(cut),
        [],
        statesFromJson(whole.states[k]!) as StageStates,
      );
      // every field comes back (whether or not this fixture would show a missing one in the output)
      expect(restored.opened, `${name} state restored at event ${cut}`).toBe(whole.states[k]);
      expect(restored.out, `${name} restored at event ${cut}`).toEqual(whole.out.slice(whole.outLengthAt[k]));
    });
  });
});

describe.each([
  { name: 'strategies', raw: () => strategySignals(resolveStrategies(settings), settings) },
  { name: 'consensus', raw: () => consensus(settings) },
  { name: 'bandit', raw: () => banditAllocation(settings) },
])('wrapped stage: $name', ({ name, raw }) => {
  it('gives inside the runner exactly what its operator gives alone (its consumed kinds are complete)', async () => {
    const stage = allStages().find((s) => s.name === name)!;
    expect(await run(runStages([stage]), recorded)).toEqual(await run(raw(), recorded));
  });
});
