import type { ClockPort } from '../../pipelines/ports.ts';
import { DecisionRecordSchema, type DecisionRecord } from './orchestrator-schemas.ts';
import { RoutingJournal, type JournalEntry } from './routing-journal.ts';

export interface RoutedInfo {
  readonly botId: string;
  readonly symbol: string;
}

export type HaltReason = 'emergency_stop' | 'drawdown';

export type RecordedDecision = DecisionRecord & { decisionId: string; recordedAt: number };

/**
 * What the orchestrator remembers: routed client order ids, the ids in doubt, each bot's
 * exposure, the halt and the equity peak. Every change is a journal entry, appended (fsync'd)
 * before it is applied, and a restart replays the journal through the same `apply`.
 */
export class OrchestratorState {
  readonly routed = new Map<string, RoutedInfo>();
  /** ids being routed right now: a concurrent repeat is a duplicate */
  readonly pending = new Set<string>();
  /**
   * ids whose outcome is unknown: journaled as routed but with no answer recorded (a crash
   * between the journal line and the venue's answer) or no answer from the venue. A repeat of
   * such an id looks it up on the exchange first; only a confirmed absence routes it again.
   */
  readonly inDoubt = new Set<string>();
  /** botId → symbol → signed quantity routed by that bot */
  readonly exposure = new Map<string, Map<string, number>>();
  readonly decisions: RecordedDecision[] = [];
  halt: HaltReason | undefined;
  peakEquity = 0;
  #decisionCount = 0;
  readonly #journal: RoutingJournal;

  constructor(
    private readonly clock: ClockPort,
    journalPath: string | undefined,
    private readonly keepDecisions: number,
  ) {
    this.#journal = new RoutingJournal(journalPath);
    for (const e of this.#journal.replayed()) this.apply(e);
  }

  /** On disk first, then in memory. */
  record(e: JournalEntry): void {
    this.#journal.append(e);
    this.apply(e);
  }

  close(): void {
    this.#journal.close();
  }

  notePeak(equity: number): void {
    if (equity > this.peakEquity) this.record({ t: 'peak', time: this.clock.now(), equity });
  }

  haltNow(reason: HaltReason): void {
    if (this.halt === 'emergency_stop' || this.halt === reason) return;
    this.record({ t: 'halt', time: this.clock.now(), reason });
  }

  /** Emergency stop refuses everything; the drawdown halt lets exits (reduce-only) through. */
  blocks(reduceOnly: boolean): boolean {
    return this.halt === 'emergency_stop' || (this.halt === 'drawdown' && !reduceOnly);
  }

  registerDecision(d: DecisionRecord): string {
    const time = this.clock.now();
    this.#journal.append({ t: 'decision', time, botId: d.botId, decision: d });
    return this.pushDecision(d, time);
  }

  private pushDecision(d: DecisionRecord, recordedAt: number): string {
    this.#decisionCount += 1;
    const decisionId = `${d.botId}:${this.#decisionCount}`;
    this.decisions.push({ ...d, decisionId, recordedAt });
    if (this.decisions.length > this.keepDecisions) {
      this.decisions.splice(0, this.decisions.length - this.keepDecisions);
    }
    return decisionId;
  }

  private addExposure(botId: string, symbol: string, qty: number): void {
    if (qty === 0) return;
    let m = this.exposure.get(botId);
    if (m === undefined) this.exposure.set(botId, (m = new Map()));
    const next = (m.get(symbol) ?? 0) + qty;
    if (Math.abs(next) < 1e-12) m.delete(symbol);
    else m.set(symbol, next);
  }

  private apply(e: JournalEntry): void {
    switch (e.t) {
      case 'routed':
        this.routed.set(e.id, { botId: e.botId, symbol: e.symbol });
        this.inDoubt.add(e.id);
        return;
      case 'resolved':
        this.inDoubt.delete(e.id);
        if (!e.found) this.routed.delete(e.id);
        return;
      case 'ack': {
        this.inDoubt.delete(e.id);
        const r = this.routed.get(e.id);
        if (r !== undefined) this.addExposure(r.botId, r.symbol, e.exposureQty);
        return;
      }
      case 'halt':
        this.halt = e.reason;
        if (e.reason === 'emergency_stop') this.exposure.clear();
        return;
      case 'resume':
        this.halt = undefined;
        this.peakEquity = 0;
        return;
      case 'peak':
        this.peakEquity = Math.max(this.peakEquity, e.equity);
        return;
      case 'decision': {
        const d = DecisionRecordSchema.safeParse(e.decision);
        if (d.success) this.pushDecision(d.data, e.time);
        return;
      }
      case 'failed':
        if (e.error !== 'EXCHANGE_UNAVAILABLE') this.inDoubt.delete(e.id);
        return;
    }
  }
}
