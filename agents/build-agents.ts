import type { OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../pipelines/model/index.ts';
import type { AgentPort, ClockPort } from '../pipelines/ports.ts';
import { SapphireError } from '../pipelines/errors.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { agentStage, type AgentStageOptions } from '../operators/agents/agents.ts';
import { embeddedForecastAgent, embeddedThesisAgent } from '../operators/agents/embedded.ts';
import { AgentGateway, type Timers } from './gateway.ts';
import { forecastClient, REMOTE_FORECAST } from './forecast-client.ts';
import { thesisClient, REMOTE_THESIS } from './thesis-client.ts';
import { AgentTape, tapedAgent } from './tape.ts';

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
}

/**
 * The agents the settings ask for, thesis first, forecast second. Each slot is remote when its
 * endpoint is set (through one shared gateway), else embedded. With AGENT_TAPE, remote slots go
 * through the tape in AGENT_TAPE_MODE (replay: tape only, synchronous — what backtests and tuning
 * use; record / call-through: call the model and write). Embedded agents are deterministic and
 * never taped.
 */
export function buildAgents(s: AgentSettings, options: BuildAgentsOptions = {}): AgentSetup {
  const remoteThesis = s.FINGPT_ENDPOINT !== '';
  const remoteForecast = s.LAGLLAMA_ENDPOINT !== '';
  const gateway =
    remoteThesis || remoteForecast
      ? new AgentGateway({
          settings: s,
          clock: options.clock,
          timers: options.timers,
          random: options.random,
          backoffBaseMs: options.backoffBaseMs,
        })
      : null;
  const mode = s.AGENT_TAPE_MODE;
  const tape = s.AGENT_TAPE !== '' && gateway ? new AgentTape(s.AGENT_TAPE, mode === 'record') : null;
  const remote = (name: string, make: () => AgentPort): AgentPort => {
    if (tape === null) return make();
    return tapedAgent(name, tape, mode, mode === 'replay' ? undefined : make());
  };
  const agents: AgentPort[] = [
    remoteThesis ? remote(REMOTE_THESIS, () => gateway!.wrap(thesisClient(s))) : embeddedThesisAgent(s),
    remoteForecast ? remote(REMOTE_FORECAST, () => gateway!.wrap(forecastClient(s))) : embeddedForecastAgent(s),
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
  s: AgentSettings,
  options?: AgentStageOptions,
): OperatorFunction<PipelineEvent, PipelineEvent> | undefined {
  if (!s.AGENTS_ENABLED) return undefined;
  const remote = s.FINGPT_ENDPOINT !== '' || s.LAGLLAMA_ENDPOINT !== '';
  // checked before building: record mode would truncate the tape
  if (remote && (s.AGENT_TAPE === '' || s.AGENT_TAPE_MODE !== 'replay')) {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'remote agents in a backtest need AGENT_TAPE with AGENT_TAPE_MODE=replay (record the tape first)',
    );
  }
  return agentStage(s, buildAgents(s).agents, options);
}
