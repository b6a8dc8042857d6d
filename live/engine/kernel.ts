import { Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type {
  Bar,
  CancelOrder,
  Decision,
  OperatorCommand,
  PipelineEvent,
  SymbolFilters,
} from '../../pipelines/model/index.ts';
import { buildPipeline, pipelineStages, VENUE_STATE } from '../../pipelines/build-pipeline.ts';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelFingerprint, KERNEL_VERSION } from '../../pipelines/fingerprint.ts';
import type { ExecutionPort } from '../../pipelines/ports.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { pickSettings, type AnyStage } from '../../pipelines/stage.ts';
import type { RunningStages, StageStates } from '../../pipelines/stage-runner.ts';
import { AGENT_STATE, agentDecisionSettings, isStatefulAgentStage } from '../../operators/agents/agent-state.ts';

/** What a snapshot must match to be restored, and what it is compared on to say what changed. */
export interface KernelIdentity {
  /** `kernel v<KERNEL_VERSION>` */
  readonly kernel: string;
  readonly fingerprint: string;
  /** hash of the kernel's source (codeVersion) */
  readonly code: string;
  /** every fingerprinted setting, by stage name */
  readonly settings: Record<string, Readonly<Record<string, unknown>>>;
}

/** The simulated venue's settings: its books are in a paper snapshot, so they are fingerprinted. */
const PAPER_VENUE_SETTINGS = [
  'TAKER_FEE',
  'SLIPPAGE_BPS',
  'LATENCY_MS',
  'FUNDING_RATE',
  'INITIAL_BALANCE',
  'LEVERAGE',
  'LEVERAGE_BRACKETS_FILE',
  'LIQUIDATION_FEE',
];

/**
 * The identity of the kernel these settings build: the stages' settings fragments, the agent
 * settings that change decisions, the trading mode and symbols, and, in paper mode, the simulated
 * venue's settings, with the kernel and code versions.
 */
export function kernelIdentity(settings: Settings, filters: ReadonlyMap<string, SymbolFilters>): KernelIdentity {
  const built = pipelineStages(settings, { filters }, () => undefined);
  const venue: AnyStage = {
    name: VENUE_STATE,
    consumes: [],
    produces: [],
    settings: pickSettings(settings, [
      'TRADING_MODE',
      'SYMBOLS',
      ...(settings.TRADING_MODE === 'paper' ? PAPER_VENUE_SETTINGS : []),
    ]),
    open: () => {
      throw new Error('the venue and agent entries of a fingerprint are never opened');
    },
  };
  const agents: AnyStage = { ...venue, name: AGENT_STATE, settings: agentDecisionSettings(settings) };
  const stages = [...built.signals, agents, ...built.decisions, venue];
  const code = codeVersion();
  const byStage: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const s of stages) byStage[s.name] = s.settings;
  return {
    kernel: `kernel v${KERNEL_VERSION}`,
    fingerprint: `${kernelFingerprint(stages)}-${code}`,
    code,
    settings: byStage,
  };
}

/** The source trees whose code decides what the kernel does with an input. */
const KERNEL_SOURCES = ['operators', 'strategies', 'pipelines', 'backtests/simulated-venue.ts'];

let codeVersionMemo: string | null = null;

/**
 * A hash of the kernel's source code (stages, strategies, pipeline, simulated venue): a snapshot
 * taken by other code is refused, since its state may mean something else to this code. Read once
 * per process.
 */
export function codeVersion(): string {
  if (codeVersionMemo !== null) return codeVersionMemo;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const files: string[] = [];
  for (const source of KERNEL_SOURCES) {
    const path = join(root, source);
    if (!existsSync(path)) continue;
    if (statSync(path).isFile()) files.push(source);
    else
      for (const name of readdirSync(path, { recursive: true }) as string[])
        if (name.endsWith('.ts')) files.push(join(source, name));
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(file).update(readFileSync(join(root, file)));
  codeVersionMemo = `c${hash.digest('hex').slice(0, 16)}`;
  return codeVersionMemo;
}

export interface KernelOptions {
  settings: Settings;
  filters: ReadonlyMap<string, SymbolFilters>;
  execution: ExecutionPort;
  agents?: OperatorFunction<PipelineEvent, PipelineEvent>;
}

/**
 * The pipeline as the live engine runs it: bars and control events in, every event out, and the
 * state of its stages (and of the simulated venue and the agent stage) as JSON data for a
 * snapshot. The agent stage is an operator of its own whose remote replies arrive later: a
 * snapshot waits until no ask is pending.
 */
export class Kernel {
  private readonly inputs = new Subject<Bar>();
  private readonly control = new Subject<OperatorCommand | CancelOrder | Decision>();
  private running: RunningStages | null = null;
  private subscription: Subscription | null = null;

  constructor(private readonly opts: KernelOptions) {}

  /**
   * Snapshots are taken unless the agent stage is one whose state cannot be taken (a custom
   * operator). The agent stage's state is in the snapshot, which is taken only while no ask is
   * pending (see `snapshot`). Live mode too: its venue state is the reconciler's (in the engine's
   * part of the snapshot) and the exchange's.
   */
  get snapshots(): boolean {
    return this.opts.agents === undefined || isStatefulAgentStage(this.opts.agents);
  }

  get started(): boolean {
    return this.subscription !== null && !this.subscription.closed;
  }

  /** Builds and subscribes the pipeline, from `restore` (a snapshot's states) or fresh stages. */
  start(restore: StageStates | undefined, out: { next(e: PipelineEvent): void; error(e: unknown): void }): void {
    const pipeline = buildPipeline(
      this.opts.settings,
      {
        market: { bars: () => this.inputs },
        execution: this.opts.execution,
        agents: this.opts.agents,
        control: this.control,
      },
      {
        filters: this.opts.filters,
        restore,
        onOpen: this.snapshots ? (running) => (this.running = running) : undefined,
      },
    );
    this.subscription = pipeline.subscribe(out);
  }

  push(bar: Bar): void {
    this.inputs.next(bar);
  }

  command(event: OperatorCommand | CancelOrder | Decision): void {
    this.control.next(event);
  }

  /** Every stage's state now (null: this kernel takes no snapshots, or an agent ask is pending). */
  snapshot(): StageStates | null {
    const states = this.running?.snapshot() ?? null;
    // the stages after a pending ask have not seen the events it holds back: not a state to restore
    if (states !== null && AGENT_STATE in states && states[AGENT_STATE] === null) return null;
    return states;
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.inputs.complete();
  }
}
