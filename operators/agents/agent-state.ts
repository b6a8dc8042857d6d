import type { OperatorFunction } from 'rxjs';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { pickSettings } from '../../pipelines/stage.ts';
import type { AgentSettings } from './agents.settings.ts';

/** The key of the agent stage's state among the stage states of a snapshot. */
export const AGENT_STATE = 'agents';

/** The agent stage's state as JSON data: per symbol its recent closes (oldest first), and positions. */
export interface AgentStageState {
  closes: [string, number[]][];
  positions: [string, number][];
}

/**
 * Snapshot hooks of the agent stage, like the venue's: the state to put back before the first
 * event, and a function returning the state now — null while an ask is pending, since the stages
 * after it have not yet seen the events it holds back (no snapshot is taken then).
 */
export interface AgentStateHooks {
  readonly restore?: unknown;
  readonly onOpen?: (snapshot: () => AgentStageState | null) => void;
}

/** An agent stage whose state can go into snapshots: the same stage built with the hooks. */
export type StatefulAgentStage = OperatorFunction<PipelineEvent, PipelineEvent> & {
  readonly withState: (hooks: AgentStateHooks) => OperatorFunction<PipelineEvent, PipelineEvent>;
};

export function isStatefulAgentStage(op: OperatorFunction<PipelineEvent, PipelineEvent>): op is StatefulAgentStage {
  return typeof (op as Partial<StatefulAgentStage>).withState === 'function';
}

/**
 * The agent settings that change decisions (what the agents are shown, which models answer, the
 * gates on their answers, when a call faults and what a fault does): in the settings fingerprint,
 * so a journal written with other ones is refused. With agents off only the switch counts.
 */
const DECISION_SETTINGS = [
  'AGENTS_ENABLED',
  'AGENT_CONTEXT_BARS',
  'AGENT_FAILURE_POLICY',
  'FINGPT_ENDPOINT',
  'FINGPT_MODEL',
  'FINGPT_MAX_TOKENS',
  'FINGPT_SEED',
  'FINGPT_RESPONSE_FORMAT',
  'FINGPT_MIN_RISK_SCORE',
  'LAGLLAMA_ENDPOINT',
  'LAGLLAMA_HORIZON',
  'LAGLLAMA_MAX_CI_SPAN',
  'ANOMALY_THRESHOLD',
  'AGENT_RETRY_ATTEMPTS',
  'LLM_TIMEOUT_SECONDS',
  'AGENT_DECISION_DEADLINE_SECONDS',
  'AGENT_MAX_REPLY_BYTES',
  'AGENT_CACHE_TTL_SECONDS',
  'MAX_PARALLEL_AGENTS',
  'AGENT_TAPE',
  'AGENT_TAPE_MODE',
] as const satisfies readonly (keyof AgentSettings)[];

export function agentDecisionSettings(s: AgentSettings): Readonly<Record<string, unknown>> {
  return s.AGENTS_ENABLED ? pickSettings(s, DECISION_SETTINGS) : { AGENTS_ENABLED: false };
}
