import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, relative } from 'node:path';
import type { AgentOpinion, Order, PipelineEvent } from '../../pipelines/model/index.ts';
import { strategiesNamed } from '../../strategies/registry.ts';
import type { Settings } from '../../pipelines/settings.ts';
import type { AuditLine, ConfigView, OpenOrderView } from './dashboard-view.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const AUDIT_KEEP = 200;

/** A data folder as a person names it: relative to the working directory when inside it. */
function shortPath(dir: string): string {
  if (!isAbsolute(dir)) return dir;
  const rel = relative(process.cwd(), dir);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : dir;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { version?: string }).version ?? '';
  } catch {
    return '';
  }
}

/** The running code's commit from git, '' outside a checkout (an image without .git). */
function commitOf(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '';
  }
}

/**
 * What the desk keeps beside the engine: market orders sent and not yet filled (the engine keeps
 * fills and protective prices, not working orders), the operator audit trail, and the service's
 * identity. Fed with the live events; after a restart the protective orders come back from the
 * engine's replayed state and the pending market orders from the next events.
 */
export class Desk {
  private readonly pending = new Map<string, Order>();
  /** each agent's latest opinion on any signal, denied or not (decisions keep only those that pass) */
  readonly lastOpinion = new Map<string, { time: number; symbol: string; opinion: AgentOpinion }>();
  /** newest last */
  readonly audit: AuditLine[] = [];
  readonly startedAt: number;
  private readonly identity = { version: packageVersion(), commit: commitOf() };

  constructor(
    private readonly engine: TradingEngine,
    private readonly settings: Settings,
    now: number,
  ) {
    this.startedAt = now;
  }

  observe(e: PipelineEvent): void {
    if (e.kind === 'signal') {
      for (const o of e.opinions) this.lastOpinion.set(o.agent, { time: e.time, symbol: e.symbol, opinion: o });
    } else if (e.kind === 'order' && e.type === 'MARKET') this.pending.set(e.clientOrderId, e);
    else if (e.kind === 'fill' || e.kind === 'order-rejected') this.pending.delete(e.clientOrderId);
    else if (e.kind === 'trade-closed') {
      // a position that went flat leaves no entry working on its symbol
      for (const [id, o] of this.pending) if (o.symbol === e.symbol && o.reason === 'entry') this.pending.delete(id);
    }
  }

  entriesInFlight(): Order[] {
    return [...this.pending.values()].filter((o) => o.reason === 'entry');
  }

  openOrders(): OpenOrderView[] {
    const out: OpenOrderView[] = [...this.pending.values()].map((o) => ({
      symbol: o.symbol,
      type: o.type,
      side: o.side,
      quantity: o.quantity,
      stopPrice: null,
      reason: o.reason,
      time: o.time,
      clientOrderId: o.clientOrderId,
    }));
    for (const p of this.engine.portfolio?.positions ?? []) {
      const guard = this.engine.protection.get(p.symbol);
      const close = p.quantity > 0 ? 'SELL' : 'BUY';
      if (guard?.stop !== undefined) {
        out.push({
          symbol: p.symbol,
          type: 'STOP_MARKET',
          side: close,
          quantity: 0,
          stopPrice: guard.stop,
          reason: 'stop',
          time: null,
          clientOrderId: null,
        });
      }
      if (guard?.takeProfit !== undefined && guard.takeProfit > 0) {
        out.push({
          symbol: p.symbol,
          type: 'TAKE_PROFIT_MARKET',
          side: close,
          quantity: 0,
          stopPrice: guard.takeProfit,
          reason: 'take-profit',
          time: null,
          clientOrderId: null,
        });
      }
    }
    return out;
  }

  record(line: AuditLine): void {
    this.audit.push(line);
    if (this.audit.length > AUDIT_KEEP) this.audit.splice(0, this.audit.length - AUDIT_KEEP);
  }

  config(now: number): ConfigView {
    const s = this.settings;
    // the strategies STRATEGIES runs, then any other source the journal's decisions came from
    const sources = new Set<string>(strategiesNamed(s.STRATEGIES).map((x) => x.name));
    for (const d of this.engine.decisions) if (d.source !== 'external') sources.add(d.source);
    const embedded = s.ASTER_REST_URL === '';
    return {
      ...this.identity,
      startedAt: this.startedAt,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      symbols: [...s.SYMBOLS],
      interval: s.BAR_INTERVAL,
      strategies: [...sources],
      agentsEnabled: s.AGENTS_ENABLED,
      sizing: s.SIZING_MODE,
      leverage: s.LEVERAGE,
      limits: [
        { name: 'MAX_DRAWDOWN', value: `${(s.MAX_DRAWDOWN * 100).toFixed(1)} %` },
        { name: 'MAX_CONCURRENT_POSITIONS', value: String(s.MAX_CONCURRENT_POSITIONS) },
        { name: 'MAX_PORTFOLIO_LEVERAGE', value: `${s.MAX_PORTFOLIO_LEVERAGE}×` },
        { name: 'MAX_POSITION_RISK', value: `${(s.MAX_POSITION_RISK * 100).toFixed(1)} %` },
        { name: 'COOLDOWN_BARS', value: String(s.COOLDOWN_BARS) },
        {
          name: 'STOPLOSS_GUARD',
          value: `${s.STOPLOSS_GUARD_TRADES} stop-outs / ${s.STOPLOSS_GUARD_WINDOW_BARS} bars → ${s.STOPLOSS_GUARD_LOCK_BARS} bars`,
        },
        { name: 'INITIAL_BALANCE', value: `${s.INITIAL_BALANCE} USDT` },
      ],
      dataSource: embedded ? `embedded simulator replaying ${s.SIMULATOR_DATA_DIR}` : `exchange ${s.ASTER_REST_URL}`,
      replay: embedded ? { sample: shortPath(s.SIMULATOR_DATA_DIR), msPerBar: s.SIMULATOR_REPLAY_MS } : null,
      adminConfigured: s.ADMIN_API_TOKEN !== '',
    };
  }
}
