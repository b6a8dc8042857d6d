import { NONE, type AgentOpinion, type Direction, type GateOutcome } from '../../pipelines/model/index.ts';

export interface ConsensusInput {
  direction: Direction;
  /** momentum strength: |lookback return| / threshold */
  strengthRatio: number;
  opinions: readonly AgentOpinion[];
  collaborative: boolean;
  minAgentConfidence: number;
  riskThreshold: number;
}

export interface ConsensusOutcome {
  enter: boolean;
  confidence: number;
  gates: readonly GateOutcome[];
}

/**
 * Whether agents let a momentum entry through, and with what confidence.
 * - an opinion counts when the agent accepted its own reply and its confidence ≥ the minimum;
 * - any anomaly block, or a counting opinion for the other side, vetoes;
 * - on collaborative symbols every agent must count and agree;
 * - with agents, the mean confidence of the agreeing ones must reach RISK_THRESHOLD.
 * Without opinions the momentum signal alone decides (confidence from its strength).
 */
export function judgeEntry(x: ConsensusInput): ConsensusOutcome {
  const momentumConfidence = Math.min(1, x.strengthRatio / 2);
  // momentum alone: its strength is the decision's confidence; there is no other gate to record
  if (x.opinions.length === 0) return { enter: true, confidence: momentumConfidence, gates: NONE };
  const gates: GateOutcome[] = [{ gate: 'momentum', passed: true, value: x.strengthRatio, limit: 1 }];

  let enter = true;
  let agreeing = 0;
  let confidenceSum = 0;
  for (const op of x.opinions) {
    if (op.blocksEntry) {
      enter = false;
      gates.push({ gate: `${op.agent}:anomaly`, passed: false, value: op.riskScore, limit: Number.NaN });
    }
    gates.push({ gate: `${op.agent}:accepted`, passed: op.accepted, value: op.riskScore, limit: Number.NaN });
    const confident = op.confidence >= x.minAgentConfidence;
    gates.push({
      gate: `${op.agent}:confidence`,
      passed: confident,
      value: op.confidence,
      limit: x.minAgentConfidence,
    });
    if (!op.accepted || !confident) {
      if (x.collaborative) enter = false;
      continue;
    }
    const agrees = op.direction === x.direction;
    gates.push({ gate: `${op.agent}:agrees`, passed: agrees, value: op.direction, limit: x.direction });
    if (agrees) {
      agreeing++;
      confidenceSum += op.confidence;
    } else if (op.direction !== 0 || x.collaborative) {
      enter = false;
    }
  }
  const confidence = agreeing > 0 ? confidenceSum / agreeing : 0;
  const confidentEnough = confidence >= x.riskThreshold;
  gates.push({ gate: 'risk-threshold', passed: confidentEnough, value: confidence, limit: x.riskThreshold });
  return { enter: enter && confidentEnough, confidence, gates };
}
