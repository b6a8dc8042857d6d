import type { Decision, PipelineEvent } from '../../pipelines/model/index.ts';

export interface SubmitOutcome {
  accepted: boolean;
  /** what the pipeline did with it, in order: allocated / denied / intent / order events */
  events: PipelineEvent[];
  reason?: string;
}

/**
 * What the pipeline did with one external decision, from the events produced while it was
 * processed. Other inputs can be processed in the same window (bars queued before it, venue
 * events), so only the events of this decision count: those carrying its sequence number, and
 * the orders of its intents and protective orders.
 */
export function decisionOutcome(events: readonly PipelineEvent[], decision: Decision): SubmitOutcome {
  const seq = decision.seq;
  const orderIds = new Set<string>();
  const relevant: PipelineEvent[] = [];
  for (const e of events) {
    if (ownSeq(e) === seq) {
      relevant.push(e);
      if (e.kind === 'intent') orderIds.add(e.clientOrderId);
    } else if (
      e.kind === 'order' &&
      e.symbol === decision.symbol &&
      (orderIds.has(e.clientOrderId) || protects(e.clientOrderId, relevant))
    ) {
      relevant.push(e);
    }
  }
  const denied = relevant.find((e) => e.kind === 'denied');
  return {
    accepted: denied === undefined,
    events: relevant,
    reason: denied?.kind === 'denied' ? `${denied.stage}:${denied.rule}: ${denied.detail}` : undefined,
  };
}

/** The decision sequence an event belongs to (undefined: none, e.g. a bar or a portfolio). */
function ownSeq(e: PipelineEvent): number | undefined {
  switch (e.kind) {
    case 'decision':
      return e.seq;
    case 'allocated':
      return e.decision.seq;
    case 'intent':
    case 'denied':
    case 'protect':
      return e.decisionSeq;
    default:
      return undefined;
  }
}

/** A protective order of a protect intent of this decision (its id ends with the stop/take-profit tag). */
function protects(clientOrderId: string, relevant: readonly PipelineEvent[]): boolean {
  return relevant.some(
    (p) =>
      p.kind === 'protect' &&
      (clientOrderId.endsWith(`${p.decisionSeq.toString(36)}s${p.generation}`) ||
        clientOrderId.endsWith(`${p.decisionSeq.toString(36)}t`)),
  );
}
