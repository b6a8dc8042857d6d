import { identity, Observable, type OperatorFunction } from 'rxjs';
import type { AgentFault, AgentOpinion, PipelineEvent, Signal } from '../../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../../pipelines/ports.ts';
import { isSapphireError, SapphireError } from '../../pipelines/errors.ts';
import { AgentError, ALWAYS_VETOING_FAULTS } from './agent-error.ts';
import type { ConsensusSettings } from '../consensus/consensus.settings.ts';
import type { AgentSettings } from './agents.settings.ts';
import { embeddedAgents } from './embedded.ts';
import type { AgentStageState, AgentStateHooks, StatefulAgentStage } from './agent-state.ts';

/**
 * Counters a caller may pass in to observe the stage: signals asked about, agent calls, faults by
 * `agent:fault`, and per agent the signals decided without its opinion.
 */
export interface AgentStageCounts {
  signals: number;
  calls: number;
  faults: Record<string, number>;
  /** agent → asked signals where it gave no opinion (a fault) */
  without?: Record<string, number>;
  /** agent → its latest call faulted */
  lastFaulted?: Record<string, boolean>;
  /** the agents' names, in order (set by the stage) */
  agents?: string[];
}

export const newAgentStageCounts = (): AgentStageCounts => ({
  signals: 0,
  calls: 0,
  faults: {},
  without: {},
  lastFaulted: {},
});

export interface AgentStageOptions {
  counts?: AgentStageCounts;
}

type Outcome = AgentOpinion | AgentFault;

/** Ring buffer of one symbol's recent closes. */
class Closes {
  private readonly buf: Float64Array;
  private head = 0;
  count = 0;
  constructor(size: number) {
    this.buf = new Float64Array(size);
  }
  push(x: number): void {
    this.buf[this.head] = x;
    this.head = (this.head + 1) % this.buf.length;
    if (this.count < this.buf.length) this.count++;
  }
  /** oldest first */
  toArray(): number[] {
    const n = this.count;
    const out = new Array<number>(n);
    const size = this.buf.length;
    let j = (this.head - n + size) % size;
    for (let i = 0; i < n; i++) {
      out[i] = this.buf[j]!;
      j = j + 1 === size ? 0 : j + 1;
    }
    return out;
  }
}

/**
 * What stands in for a faulted agent's opinion, if anything. Fail-closed (and a journal replay
 * with no taped outcome) vetoes the entry through a `blocks-entry` gate; on a collaborative
 * symbol a missing agent cannot agree, so a non-counting stand-in makes consensus refuse; under
 * fail-open elsewhere the decision goes on without it.
 */
function standIn(
  fault: AgentFault,
  policy: AgentSettings['AGENT_FAILURE_POLICY'],
  collaborative: boolean,
): AgentOpinion | null {
  const vetoes = policy === 'fail-closed' || ALWAYS_VETOING_FAULTS.has(fault.fault);
  if (!vetoes && !collaborative) return null;
  return {
    agent: fault.agent,
    direction: 0,
    confidence: 0,
    riskScore: 1,
    accepted: false,
    blocksEntry: vetoes,
    summary: `no opinion (${fault.fault}); ${vetoes ? `${policy}: the entry is refused` : 'a collaborative symbol needs every agent'}`,
  };
}

function faultOf(agent: string, signal: Signal, error: unknown): AgentFault {
  let fault = 'error';
  if (error instanceof AgentError) fault = error.fault;
  else if (isSapphireError(error)) fault = error.code;
  const detail = error instanceof Error ? error.message : String(error);
  return { kind: 'agent-fault', time: signal.time, symbol: signal.symbol, agent, fault, detail };
}

function isThenable(x: unknown): x is PromiseLike<AgentOpinion> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** What an agent is shown: the signal's bar, its features and the closes up to it. */
function contextOf(signal: Signal, ring: Closes | undefined): AgentContext {
  const f = signal.features;
  return {
    symbol: signal.symbol,
    time: signal.time,
    price: signal.price,
    change24h: f.change24h,
    volume: f.bar.volume,
    atr: f.atr,
    volatility: f.volatility,
    closes: ring ? ring.toArray() : [signal.price],
    position: 0,
    proposedDirection: signal.direction,
    strategy: signal.source,
  };
}

/**
 * Asks every agent at once: synchronous answers (embedded, tape) land in `outcomes` now, remote
 * ones when `pending` settles; a throw or a rejection becomes that agent's fault.
 */
function askEvery(
  agents: readonly AgentPort[],
  ctx: AgentContext,
  signal: Signal,
  counts: AgentStageCounts | undefined,
): { outcomes: Outcome[]; pending: Promise<void>[] | null } {
  const outcomes: Outcome[] = new Array<Outcome>(agents.length);
  let pending: Promise<void>[] | null = null;
  for (let i = 0; i < agents.length; i++) {
    const agent = agents[i]!;
    if (counts) counts.calls++;
    try {
      const r = agent.opinion(ctx);
      if (isThenable(r)) {
        pending ??= [];
        pending.push(
          Promise.resolve(r).then(
            (op) => void (outcomes[i] = op),
            (error: unknown) => void (outcomes[i] = faultOf(agent.name, signal, error)),
          ),
        );
      } else outcomes[i] = r;
    } catch (error) {
      outcomes[i] = faultOf(agent.name, signal, error);
    }
  }
  return { outcomes, pending };
}

/**
 * The signal with the opinions of the agents that answered (plus a stand-in for a failed one
 * where the policy or the symbol asks for it), each fault just before it; counted when decided,
 * so `without / signals` is exact while calls are in flight.
 */
function judged(
  signal: Signal,
  outcomes: readonly Outcome[],
  counts: AgentStageCounts | undefined,
  policy: AgentSettings['AGENT_FAILURE_POLICY'],
  collaborative: boolean,
): PipelineEvent[] {
  const out: PipelineEvent[] = [];
  const opinions: AgentOpinion[] = [];
  if (counts) counts.signals++;
  for (const o of outcomes) {
    if (counts?.lastFaulted) counts.lastFaulted[o.agent] = 'kind' in o;
    if ('kind' in o) {
      if (counts) {
        const key = `${o.agent}:${o.fault}`;
        counts.faults[key] = (counts.faults[key] ?? 0) + 1;
        if (counts.without) counts.without[o.agent] = (counts.without[o.agent] ?? 0) + 1;
      }
      out.push(o);
      const stand = standIn(o, policy, collaborative);
      if (stand !== null) opinions.push(stand);
    } else opinions.push(o);
  }
  out.push({ ...signal, opinions });
  return out;
}

/** The recent closes and positions a snapshot held, or empty ones. */
function restoredState(restored: AgentStageState | undefined, size: number) {
  const closes = new Map<string, Closes>();
  const positions = new Map<string, number>();
  for (const [symbol, values] of restored?.closes ?? []) {
    const ring = new Closes(size);
    for (const x of values) ring.push(x);
    closes.set(symbol, ring);
  }
  for (const [symbol, quantity] of restored?.positions ?? []) positions.set(symbol, quantity);
  return { closes, positions };
}

/**
 * The agent stage: between momentum and consensus.
 *
 * For each momentum Signal on a symbol with no open position (agents gate entries only; exits
 * are never gated, so they are not asked then) it builds an AgentContext from data up to and
 * including the signal's bar — the last AGENT_CONTEXT_BARS bar closes seen by this stage, the bar's
 * features, the held position — and asks every agent at once (in parallel when they are remote).
 * Design: both agents are asked on every symbol; COLLAB_SYMBOLS differ in consensus, which
 * there requires every agent to count and agree (see consensus.kernel.ts).
 * Emits: every input in order; a failed agent becomes an AgentFault event emitted just before the
 * signal, which carries the opinions of the agents that answered, in agent order, plus a
 * stand-in for a failed one when AGENT_FAILURE_POLICY=fail-closed or the symbol is collaborative
 * (see standIn). Remote agents answer within their gateway's decision deadline, so an event is
 * held back at most that long.
 *
 * Synchronous agents (embedded, tape replay) answer inline, so a backtest stays synchronous.
 * When an agent answers with a promise (remote, live), the signal and every event after it are
 * held back until all its answers are in, so the output order is the input order; completion
 * waits for the last pending answer.
 */
export function agentStage(
  s: Pick<AgentSettings, 'AGENT_CONTEXT_BARS' | 'AGENT_FAILURE_POLICY'> & Pick<ConsensusSettings, 'COLLAB_SYMBOLS'>,
  agents: readonly AgentPort[],
  options: AgentStageOptions = {},
): StatefulAgentStage {
  const size = s.AGENT_CONTEXT_BARS;
  const counts = options.counts;
  const policy = s.AGENT_FAILURE_POLICY;
  const collab = new Set(s.COLLAB_SYMBOLS);
  if (counts) counts.agents = agents.map((a) => a.name);
  const build =
    (hooks?: AgentStateHooks): OperatorFunction<PipelineEvent, PipelineEvent> =>
    (source) =>
      new Observable<PipelineEvent>((subscriber) => {
        const { closes, positions } = restoredState(hooks?.restore as AgentStageState | undefined, size);
        /** held-back output, in order; a null slot is a signal still waiting for answers */
        const held: (PipelineEvent[] | null | undefined)[] = [];
        let headIndex = 0;
        let sourceDone = false;
        hooks?.onOpen?.(() =>
          held.length !== headIndex
            ? null
            : { closes: [...closes].map(([k, ring]) => [k, ring.toArray()]), positions: [...positions] },
        );

        const flush = (): void => {
          while (headIndex < held.length) {
            const slot = held[headIndex];
            if (slot === null || slot === undefined) break;
            held[headIndex] = undefined;
            headIndex++;
            for (const e of slot) subscriber.next(e);
          }
          if (headIndex === held.length) {
            held.length = 0;
            headIndex = 0;
            if (sourceDone) subscriber.complete();
          }
        };

        const finish = (signal: Signal, outcomes: readonly Outcome[]): PipelineEvent[] =>
          judged(signal, outcomes, counts, policy, collab.has(signal.symbol));

        const ask = (signal: Signal): void => {
          const ctx = contextOf(signal, closes.get(signal.symbol));
          const { outcomes, pending } = askEvery(agents, ctx, signal, counts);
          if (pending === null) {
            const out = finish(signal, outcomes);
            if (held.length === headIndex) for (const e of out) subscriber.next(e);
            else held.push(out);
            return;
          }
          const slot = held.length;
          held.push(null);
          void Promise.all(pending).then(() => {
            if (subscriber.closed) return;
            held[slot] = finish(signal, outcomes);
            if (slot === headIndex) flush();
          });
        };

        const pass = (e: PipelineEvent): void => {
          if (held.length === headIndex) subscriber.next(e);
          else held.push([e]);
        };

        const subscription = source.subscribe({
          next(e) {
            try {
              switch (e.kind) {
                case 'bar': {
                  let ring = closes.get(e.symbol);
                  if (!ring) closes.set(e.symbol, (ring = new Closes(size)));
                  ring.push(e.close);
                  pass(e);
                  return;
                }
                case 'portfolio':
                  positions.clear();
                  for (const p of e.positions) positions.set(p.symbol, p.quantity);
                  pass(e);
                  return;
                case 'signal':
                  if (e.direction === 0 || (positions.get(e.symbol) ?? 0) !== 0 || agents.length === 0) pass(e);
                  else ask(e);
                  return;
                default:
                  pass(e);
              }
            } catch (error) {
              subscriber.error(error);
            }
          },
          error(error) {
            subscriber.error(error);
          },
          complete() {
            sourceDone = true;
            if (held.length === headIndex) subscriber.complete();
          },
        });
        return () => subscription.unsubscribe();
      });
  return Object.assign(build(), { withState: build });
}

/** The stage with the embedded agents (no endpoint, no tape): what AGENTS_ENABLED uses by default. */
export function embeddedAgentStage(
  s: AgentSettings & Pick<ConsensusSettings, 'COLLAB_SYMBOLS'>,
  options?: AgentStageOptions,
): OperatorFunction<PipelineEvent, PipelineEvent> {
  return agentStage(s, embeddedAgents(s), options);
}

/**
 * The pipeline's default agent stage when the caller passes none: nothing when AGENTS_ENABLED is
 * off, the embedded agents when no endpoint is set. With an endpoint set it refuses to start
 * rather than silently use the embedded agents: remote agents need the network and a tape, so
 * the caller builds them (agents/build-agents.ts: backtestAgentStage, buildAgents) and passes
 * them as the pipeline's `agents` port.
 */
export function defaultAgentStage(
  s: AgentSettings & Pick<ConsensusSettings, 'COLLAB_SYMBOLS'>,
): OperatorFunction<PipelineEvent, PipelineEvent> {
  if (!s.AGENTS_ENABLED) return identity;
  if (s.FINGPT_ENDPOINT !== '' || s.LAGLLAMA_ENDPOINT !== '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'FINGPT_ENDPOINT / LAGLLAMA_ENDPOINT are set: pass the remote agent stage as ports.agents ' +
        '(backtests: backtestAgentStage with an AGENT_TAPE in replay mode)',
    );
  }
  return embeddedAgentStage(s);
}
