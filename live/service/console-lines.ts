import { CANCELLED_BY_OPERATOR, type PipelineEvent } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';
import { strategiesNamed } from '../../strategies/registry.ts';

/** Market time as the console prints it: with its year, UTC. */
const at = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}`;
const money = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const quantity = (v: number) => Number(v.toPrecision(8)).toString();

/**
 * One console line for the events a person watching `npm start` wants: fills, closed trades,
 * risk changes, operator commands, positions taken over from the exchange, and what went wrong (rejections, agent faults). `level`
 * 'error' goes to stderr. Everything else (bars, decisions, denials) stays on the dashboard.
 */
export function consoleLine(e: PipelineEvent): { level: 'info' | 'error'; text: string } | null {
  switch (e.kind) {
    case 'fill':
      return {
        level: 'info',
        text: `${at(e.time)} fill   ${e.symbol} ${e.side} ${quantity(e.quantity)} @ ${e.price} (${e.reason}, fee ${e.fee.toFixed(2)} USDT)`,
      };
    case 'trade-closed':
      return {
        level: 'info',
        text: `${at(e.time)} trade  ${e.symbol} ${e.side} closed by ${e.exitReason}: ${money(e.netPnl)} USDT (${money(e.returnPct * 100)} %), held since ${at(e.openedAt)}`,
      };
    case 'risk-state':
      // the runner's own halt while it warms up on history is not news
      return /warm-up/.test(e.reason)
        ? null
        : { level: 'info', text: `${at(e.time)} risk   ${e.from} → ${e.to}: ${e.reason}` };
    case 'command':
      return e.origin === 'operator'
        ? { level: 'info', text: `${at(e.time)} operator ${e.command}: ${e.reason}` }
        : null;
    case 'cancel-order':
      return { level: 'info', text: `${at(e.time)} operator cancel ${e.symbol} ${e.clientOrderId}: ${e.reason}` };
    case 'order-rejected':
      if (e.reason === CANCELLED_BY_OPERATOR)
        return { level: 'info', text: `${at(e.time)} order cancelled ${e.symbol} ${e.clientOrderId}: ${e.reason}` };
      return { level: 'error', text: `${at(e.time)} order rejected ${e.symbol} ${e.clientOrderId}: ${e.reason}` };
    case 'position-adopted':
      return {
        level: 'info',
        text: `${at(e.time)} adopted ${e.symbol} ${e.side} ${quantity(e.quantity)} @ ${e.entryPrice} from the exchange (its stop ${e.stopPrice > 0 ? e.stopPrice : 'none'}, take-profit ${e.takeProfitPrice > 0 ? e.takeProfitPrice : 'none'})`,
      };
    case 'agent-fault':
      return { level: 'error', text: `${at(e.time)} agent ${e.agent} failed on ${e.symbol} (${e.fault}): ${e.detail}` };
    default:
      return null;
  }
}

/** The start-up summary: mode, market, symbols, strategies, agents, journal, dashboard. */
export function startupSummary(settings: Settings, engine: TradingEngine, market: string, url: string): string {
  const source =
    settings.ASTER_REST_URL === ''
      ? `embedded simulator replaying ${settings.SIMULATOR_DATA_DIR} at 1 bar / ${settings.SIMULATOR_REPLAY_MS} ms`
      : `${settings.ASTER_REST_URL} (${market})`;
  // the strategies STRATEGIES runs, then any other source the journal's decisions came from
  const strategies = new Set(strategiesNamed(settings.STRATEGIES).map((x) => x.name));
  for (const d of engine.decisions) if (d.source !== 'external') strategies.add(d.source);
  const agents = settings.AGENTS_ENABLED
    ? `thesis (${settings.FINGPT_ENDPOINT ? 'remote' : 'embedded'}), forecast (${settings.LAGLLAMA_ENDPOINT ? 'remote' : 'embedded'})`
    : 'off (AGENTS_ENABLED=false)';
  // a new journal holds only the header (meta) written at this start
  const journal =
    engine.counts.replayed > 1
      ? `resumed from ${engine.counts.replayed} entries, last bar ${engine.lastBarTime > 0 ? `${at(engine.lastBarTime)} UTC` : 'none'}`
      : 'new';
  return [
    `sapphire ${settings.TRADING_MODE} on ${settings.SYMBOLS.join(', ')} (${settings.BAR_INTERVAL} bars)`,
    `  market:     ${source}`,
    `  strategies: ${[...strategies].join(', ')}; sizing ${settings.SIZING_MODE}, leverage ${settings.LEVERAGE}×`,
    `  agents:     ${agents}`,
    `  journal:    ${journal} (${settings.JOURNAL_PATH})`,
    `  dashboard:  ${url.replace('127.0.0.1', 'localhost')}`,
  ].join('\n');
}
