import type { OperatorFunction } from 'rxjs';
import type { Decision, Denied, PipelineEvent, PositionView } from '../../pipelines/model/index.ts';
import { defineOperator } from '../../pipelines/operator-kit.ts';
import { decisionSeq } from '../execution/client-order-id.ts';
import { judgeEntry } from './consensus.kernel.ts';
import type { ConsensusSettings } from './consensus.settings.ts';

function positionQty(positions: readonly PositionView[], symbol: string): number {
  for (const p of positions) if (p.symbol === symbol) return p.quantity;
  return 0;
}

/**
 * Turns signals (with agent opinions) into at most one decision per symbol and bar.
 * Flat + signal → entry (if the agents' gates pass); position against the signal → exit;
 * position with the signal → nothing. Exits are never gated by agents.
 * Emits: every input unchanged, then a Decision, or a Denied naming the failed gates.
 */
export function consensus(s: ConsensusSettings): OperatorFunction<PipelineEvent, PipelineEvent> {
  const collab = new Set(s.COLLAB_SYMBOLS);
  return defineOperator<PipelineEvent, PipelineEvent>((emit) => {
    let positions: readonly PositionView[] = [];
    return {
      next(e) {
        emit(e);
        if (e.kind === 'portfolio') {
          positions = e.positions;
          return;
        }
        if (e.kind !== 'signal' || e.direction === 0) return;
        const held = positionQty(positions, e.symbol);
        const seq = decisionSeq(e.time);
        if (held !== 0) {
          if (Math.sign(held) === e.direction) return;
          const exit: Decision = {
            kind: 'decision',
            time: e.time,
            symbol: e.symbol,
            seq,
            action: 'exit',
            confidence: 1,
            source: e.source,
            price: e.price,
            features: e.features,
            gates: [{ gate: 'signal-reversal', passed: true, value: e.direction, limit: Math.sign(held) }],
            opinions: e.opinions,
          };
          emit(exit);
          return;
        }
        const verdict = judgeEntry({
          direction: e.direction,
          source: e.source,
          strength: e.strength,
          opinions: e.opinions,
          collaborative: collab.has(e.symbol),
          minAgentConfidence: s.MIN_LLM_CONFIDENCE,
          riskThreshold: s.RISK_THRESHOLD,
        });
        if (!verdict.enter) {
          const denied: Denied = {
            kind: 'denied',
            time: e.time,
            symbol: e.symbol,
            stage: 'consensus',
            rule: 'agent-gates',
            value: verdict.confidence,
            limit: s.MIN_LLM_CONFIDENCE,
            detail: verdict.gates
              .filter((g) => !g.passed)
              .map((g) => `${g.gate} ${g.value}/${g.limit}`)
              .join(', '),
            decisionSeq: seq,
          };
          emit(denied);
          return;
        }
        const decision: Decision = {
          kind: 'decision',
          time: e.time,
          symbol: e.symbol,
          seq,
          action: e.direction > 0 ? 'enter-long' : 'enter-short',
          confidence: verdict.confidence,
          source: e.source,
          price: e.price,
          features: e.features,
          gates: verdict.gates,
          opinions: e.opinions,
        };
        emit(decision);
      },
    };
  });
}
