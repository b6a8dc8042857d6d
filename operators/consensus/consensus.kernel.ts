import { NONE, type AgentOpinion, type Direction, type GateOutcome } from '../../pipelines/model/index.ts';

export interface ConsensusInput {
  direction: Direction;
  /** the strategy behind the signal (its gate is named after it) */
  source: string;
  /** the signal's normalised strength, 0..1 */
  strength: number;
  opinions: readonly AgentOpinion[];
  collaborative: boolean;
  /** MIN_LLM_CONFIDENCE */
  minAgentConfidence: number;
  /** RISK_THRESHOLD */
  riskThreshold: number;
}

export interface ConsensusOutcome {
  enter: boolean;
  confidence: number;
  gates: readonly GateOutcome[];
}

/**
 * Whether agents let a strategy's entry through, and with what confidence. Every check is recorded
 * as a gate, passed or not, in agent order:
 * - `<agent>:blocks-entry` — an anomaly block (forecast anomaly above ANOMALY_THRESHOLD) vetoes;
 * - `<agent>:accepted` — the agent's own gate (thesis risk floor, forecast CI span / first point);
 * - `<agent>:confidence` — confidence ≥ MIN_LLM_CONFIDENCE; an opinion *counts* when accepted and
 *   confident enough;
 * - `<agent>:risk` — risk score ≤ RISK_THRESHOLD; a counting agent above it vetoes;
 * - `<agent>:agrees` — its direction vs the signal's; a counting agent for the other side vetoes;
 * - `support` — agreeing counting agents vs the number required: on COLLAB_SYMBOLS every agent
 *   asked must count and agree (a non-counting or neutral one vetoes); elsewhere one is enough.
 * The decision's confidence is the mean confidence of the agreeing agents.
 * Without opinions (agents off, or all of them failed) the strategy alone decides: its normalised
 * strength is the confidence. Nothing here knows which strategy spoke.
 */
export function judgeEntry(x: ConsensusInput): ConsensusOutcome {
  // the strategy alone: its strength is the decision's confidence; there is no other gate to record
  if (x.opinions.length === 0) return { enter: true, confidence: x.strength, gates: NONE };
  const gates: GateOutcome[] = [{ gate: x.source, passed: true, value: x.strength, limit: 0 }];

  let veto = false;
  let agreeing = 0;
  let confidenceSum = 0;
  for (const op of x.opinions) {
    const a = op.agent;
    gates.push({ gate: `${a}:blocks-entry`, passed: !op.blocksEntry, value: op.blocksEntry ? 1 : 0, limit: 0 });
    if (op.blocksEntry) veto = true;
    gates.push({ gate: `${a}:accepted`, passed: op.accepted, value: op.accepted ? 1 : 0, limit: 1 });
    const confident = op.confidence >= x.minAgentConfidence;
    gates.push({ gate: `${a}:confidence`, passed: confident, value: op.confidence, limit: x.minAgentConfidence });
    const riskOk = op.riskScore <= x.riskThreshold;
    gates.push({ gate: `${a}:risk`, passed: riskOk, value: op.riskScore, limit: x.riskThreshold });
    const agrees = op.direction === x.direction;
    gates.push({ gate: `${a}:agrees`, passed: agrees, value: op.direction, limit: x.direction });
    const counts = op.accepted && confident;
    if (!counts) {
      if (x.collaborative) veto = true;
      continue;
    }
    if (!riskOk) veto = true;
    if (agrees) {
      agreeing++;
      confidenceSum += op.confidence;
    } else if (op.direction !== 0 || x.collaborative) {
      veto = true;
    }
  }
  const required = x.collaborative ? x.opinions.length : 1;
  const supported = agreeing >= required;
  gates.push({ gate: 'support', passed: supported, value: agreeing, limit: required });
  const confidence = agreeing > 0 ? confidenceSum / agreeing : 0;
  return { enter: !veto && supported, confidence, gates };
}
