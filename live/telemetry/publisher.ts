import type { PipelineEvent } from '../../pipelines/model/index.ts';
import type { StreamFields, StreamStore } from './streams.ts';

const iso = (t: number) => new Date(t).toISOString();

/**
 * Maps pipeline events onto the three telemetry streams (flat string fields, nested data as
 * JSON strings):
 * - `decisions`: every decision and every denial, with the stage and rule that denied it;
 * - `positions`: fills, positions taken over from the exchange, closed trades and the portfolio after each;
 * - `reasoning`: each decision's gate outcomes and agent opinions, and agent faults.
 * Bars, features and the per-bar portfolio marks are not telemetry (metrics carry those).
 */
export function telemetryPublisher(store: StreamStore, botId: string): (e: PipelineEvent) => void {
  let fillSeen = false;
  const put = (stream: 'decisions' | 'positions' | 'reasoning', fields: StreamFields) =>
    store.append(stream, { bot_id: botId, ...fields });
  return (e) => {
    switch (e.kind) {
      case 'decision':
        put('decisions', {
          type: 'decision',
          time: iso(e.time),
          symbol: e.symbol,
          action: e.action,
          confidence: String(e.confidence),
          source: e.source,
          price: String(e.price),
          seq: String(e.seq),
        });
        put('reasoning', {
          type: 'reasoning',
          time: iso(e.time),
          symbol: e.symbol,
          action: e.action,
          gates: JSON.stringify(e.gates),
          opinions: JSON.stringify(e.opinions),
        });
        return;
      case 'denied':
        put('decisions', {
          type: 'denied',
          time: iso(e.time),
          symbol: e.symbol,
          stage: e.stage,
          rule: e.rule,
          detail: e.detail,
          value: String(e.value),
          limit: String(e.limit),
        });
        return;
      case 'agent-fault':
        put('reasoning', {
          type: 'agent-fault',
          time: iso(e.time),
          symbol: e.symbol,
          agent: e.agent,
          fault: e.fault,
          detail: e.detail,
        });
        return;
      case 'fill':
        fillSeen = true;
        put('positions', {
          type: 'fill',
          time: iso(e.time),
          symbol: e.symbol,
          side: e.side,
          quantity: String(e.quantity),
          price: String(e.price),
          fee: String(e.fee),
          reason: e.reason,
          client_order_id: e.clientOrderId,
        });
        return;
      case 'position-adopted':
        fillSeen = true;
        put('positions', { type: 'position-adopted', time: iso(e.time), symbol: e.symbol, data: JSON.stringify(e) });
        return;
      case 'trade-closed':
        put('positions', {
          type: 'trade-closed',
          time: iso(e.time),
          symbol: e.symbol,
          side: e.side,
          net_pnl: String(e.netPnl),
          return_pct: String(e.returnPct),
          exit_reason: e.exitReason,
          data: JSON.stringify(e),
        });
        return;
      case 'portfolio':
        if (!fillSeen) return;
        fillSeen = false;
        put('positions', {
          type: 'portfolio',
          time: iso(e.time),
          balance: String(e.balance),
          equity: String(e.equity),
          drawdown: String(e.drawdown),
          positions: JSON.stringify(e.positions),
        });
        return;
      case 'risk-state':
        put('decisions', { type: 'risk-state', time: iso(e.time), from: e.from, to: e.to, reason: e.reason });
        return;
      default:
        return;
    }
  };
}
