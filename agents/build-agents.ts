import type { OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../pipelines/model/index.ts';
import type { AgentContext, AgentPort, ClockPort, Timers } from '../pipelines/ports.ts';
import { SapphireError } from '../pipelines/errors.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import type { ConsensusSettings } from '../operators/consensus/consensus.settings.ts';
import { agentStage, type AgentStageOptions } from '../operators/agents/agents.ts';
import { embeddedForecastAgent, embeddedThesisAgent } from '../operators/agents/embedded.ts';
import { AgentGateway, type RemoteAgent } from './gateway.ts';
import { forecastClient } from './forecast-client.ts';
import { thesisClient } from './thesis-client.ts';
import { AgentTape, tapedAgent, type TapeMode } from './tape.ts';

export interface AgentSetup {
  agents: AgentPort[];
  /** present when a remote endpoint is configured */
  gateway: AgentGateway | null;
  tape: AgentTape | null;
  /** true when every agent answers synchronously (embedded or tape replay): usable in runBacktest */
  synchronous: boolean;
}

export interface BuildAgentsOptions {
  clock?: ClockPort;
  timers?: Timers;
  random?: () => number;
  backoffBaseMs?: number;
  /** the live service: true while its journal is replayed (the tape alone answers then) */
  replaying?: () => boolean;
  /**
   * Recording: calls wait for a free slot BEFORE their decision deadline starts. A recording
   * asks at every signal at once; without this the queue, not the model, would use up deadlines.
   */
  queueBeforeDeadline?: boolean;
}

/** At most `limit` tasks at once, the rest in FIFO order. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/** AGENT_TAPE_MODE when AGENT_TAPE is set; the mode is never guessed. */
export function tapeModeOf(s: Pick<AgentSettings, 'AGENT_TAPE' | 'AGENT_TAPE_MODE'>): TapeMode | null {
  if (s.AGENT_TAPE === '') return null;
  if (s.AGENT_TAPE_MODE === '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      `AGENT_TAPE=${s.AGENT_TAPE} needs AGENT_TAPE_MODE: replay (tape only), record (call and write a new tape) ` +
        'or call-through (replay, calling the model on a miss)',
    );
  }
  return s.AGENT_TAPE_MODE;
}

/**
 * The agents the settings ask for, thesis first, forecast second. Each slot is remote when its
 * endpoint is set (through one shared gateway), else embedded. With AGENT_TAPE, remote slots go
 * through the tape in AGENT_TAPE_MODE (replay: tape only, synchronous — what backtests and tuning
 * use; record / call-through: call the model and tape the reply or fault). Embedded agents are
 * deterministic and never taped.
 */
export function buildAgents(s: AgentSettings, options: BuildAgentsOptions = {}): AgentSetup {
  const mode = tapeModeOf(s);
  // a model that will be called needs its name: vLLM / OpenAI answer 404 to a guessed one
  if (s.FINGPT_ENDPOINT !== '' && s.FINGPT_MODEL === '' && mode !== 'replay') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'FINGPT_ENDPOINT is set but FINGPT_MODEL is empty: name the model the server serves (e.g. the id in GET /v1/models)',
    );
  }
  const remotes: RemoteAgent<unknown>[] = [];
  const thesis = s.FINGPT_ENDPOINT !== '' ? thesisClient(s) : null;
  const forecast = s.LAGLLAMA_ENDPOINT !== '' ? forecastClient(s) : null;
  if (thesis) remotes.push(thesis as RemoteAgent<unknown>);
  if (forecast) remotes.push(forecast as RemoteAgent<unknown>);
  const gateway =
    remotes.length > 0
      ? new AgentGateway({
          settings: s,
          clock: options.clock,
          timers: options.timers,
          random: options.random,
          backoffBaseMs: options.backoffBaseMs,
        })
      : null;
  const tape =
    mode !== null && gateway
      ? new AgentTape(s.AGENT_TAPE, Object.fromEntries(remotes.map((r) => [r.name, r.identity])), mode)
      : null;
  const queue = options.queueBeforeDeadline === true ? limiter(s.MAX_PARALLEL_AGENTS) : null;
  const remote = <R>(agent: RemoteAgent<R>): AgentPort => {
    if (tape === null || mode === null) return gateway!.wrap(agent);
    const ask = (ctx: AgentContext): Promise<R> => gateway!.fetch(agent, ctx);
    const fetch = mode === 'replay' ? undefined : queue ? (ctx: AgentContext) => queue(() => ask(ctx)) : ask;
    return tapedAgent(agent, tape, mode, { fetch, replaying: options.replaying });
  };
  const agents: AgentPort[] = [
    thesis ? remote(thesis) : embeddedThesisAgent(s),
    forecast ? remote(forecast) : embeddedForecastAgent(s),
  ];
  const synchronous = gateway === null || (tape !== null && mode === 'replay');
  return { agents, gateway, tape, synchronous };
}

/**
 * The agent stage for a synchronous backtest (runBacktest's `agents` option), or undefined when
 * AGENTS_ENABLED is off. Remote agents in a backtest must come from a tape in replay mode:
 * record one first with recordAgentTape (agents/record-tape.ts).
 */
export function backtestAgentStage(
  s: AgentSettings & Pick<ConsensusSettings, 'COLLAB_SYMBOLS'>,
  options?: AgentStageOptions,
): OperatorFunction<PipelineEvent, PipelineEvent> | undefined {
  if (!s.AGENTS_ENABLED) return undefined;
  const remote = s.FINGPT_ENDPOINT !== '' || s.LAGLLAMA_ENDPOINT !== '';
  // checked before building: record mode would start a new tape
  if (remote && (s.AGENT_TAPE === '' || s.AGENT_TAPE_MODE !== 'replay')) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'remote agents in a backtest need AGENT_TAPE with AGENT_TAPE_MODE=replay (record the tape first)',
    );
  }
  return agentStage(s, buildAgents(s).agents, options);
}
