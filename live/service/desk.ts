import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, relative } from 'node:path';
import {
  CANCELLED_BY_OPERATOR,
  type AgentOpinion,
  type Order,
  type PipelineEvent,
} from '../../pipelines/model/index.ts';
import { strategiesNamed } from '../../strategies/registry.ts';
import type { Settings } from '../../pipelines/settings.ts';
import type { AuditLine, ConfigView, OpenOrderView } from './dashboard-view.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const AUDIT_KEEP = 200;
/** finished orders remembered, so a cancel of one says what became of it (409) instead of 404 */
const FINISHED_KEEP = 500;

/** An order the desk knows, working or finished, as DELETE /orders/:clientOrderId looks it up. */
export type KnownOrder =
  | { readonly state: 'open'; readonly order: OpenOrderView }
  | { readonly state: 'finished'; readonly symbol: string; readonly outcome: string };

/**
 * Why a working order cannot be cancelled by an operator (null: it can). Only an entry that has
 * not filled can be withdrawn: an exit, a reduction or an emergency flatten is how the engine gets
 * a position out, and the stop and take-profit of an open position are the engine's protection
 * (close the position instead, POST /positions/:symbol/close).
 */
export function notCancellable(o: Pick<Order, 'type' | 'reason'>, cancelRequested: boolean): string | null {
  if (cancelRequested) return 'a cancel was requested: the venue withdraws it at the next bar';
  if (o.type === 'STOP_MARKET')
    return 'the protective stop of an open position is kept by the engine: close the position instead';
  if (o.type === 'TAKE_PROFIT_MARKET')
    return "the take-profit is kept with the position's stop by the engine: close the position instead";
  if (o.reason !== 'entry')
    return `a ${o.reason} order (reduce-only) is how the engine gets the position out: it is not cancelled`;
  return null;
}

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
  /** symbol → its working stop / take-profit orders as sent (their client order ids) */
  private readonly protective = new Map<string, { stop?: Order; takeProfit?: Order }>();
  /** cancels asked for and not answered yet */
  private readonly cancelling = new Set<string>();
  /** client order id → what became of it (newest last, bounded) */
  private readonly finished = new Map<string, { symbol: string; outcome: string }>();
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
    } else if (e.kind === 'order') {
      if (e.type === 'MARKET') this.pending.set(e.clientOrderId, e);
      else {
        const guard = this.protective.get(e.symbol) ?? {};
        const previous = e.type === 'STOP_MARKET' ? guard.stop : guard.takeProfit;
        if (previous !== undefined && previous.clientOrderId !== e.clientOrderId)
          this.finish(previous.clientOrderId, e.symbol, `replaced by ${e.clientOrderId}`);
        this.protective.set(e.symbol, e.type === 'STOP_MARKET' ? { ...guard, stop: e } : { ...guard, takeProfit: e });
      }
    } else if (e.kind === 'cancel-order') {
      if (this.pending.has(e.clientOrderId)) this.cancelling.add(e.clientOrderId);
    } else if (e.kind === 'fill') {
      this.finish(e.clientOrderId, e.symbol, 'filled');
    } else if (e.kind === 'order-rejected') {
      this.finish(
        e.clientOrderId,
        e.symbol,
        e.reason === CANCELLED_BY_OPERATOR ? 'cancelled' : `rejected (${e.reason})`,
      );
    } else if (e.kind === 'trade-closed') {
      // a position that went flat leaves no entry working on its symbol, and no protection
      for (const [id, o] of this.pending)
        if (o.symbol === e.symbol && o.reason === 'entry') this.finish(id, e.symbol, 'gone with its position');
      const guard = this.protective.get(e.symbol);
      this.protective.delete(e.symbol);
      for (const o of [guard?.stop, guard?.takeProfit])
        if (o !== undefined && !this.finished.has(o.clientOrderId))
          this.finish(o.clientOrderId, e.symbol, 'expired: its position is closed');
    }
  }

  private finish(id: string, symbol: string, outcome: string): void {
    this.pending.delete(id);
    this.cancelling.delete(id);
    this.finished.delete(id);
    this.finished.set(id, { symbol, outcome });
    if (this.finished.size > FINISHED_KEEP) this.finished.delete(this.finished.keys().next().value!);
  }

  /** The order `clientOrderId` names, working or finished; null when the desk never saw it. */
  find(clientOrderId: string): KnownOrder | null {
    const open = this.openOrders().find((o) => o.clientOrderId === clientOrderId);
    if (open !== undefined) return { state: 'open', order: open };
    const done = this.finished.get(clientOrderId);
    return done === undefined ? null : { state: 'finished', ...done };
  }

  entriesInFlight(): Order[] {
    return [...this.pending.values()].filter((o) => o.reason === 'entry');
  }

  openOrders(): OpenOrderView[] {
    const out: OpenOrderView[] = [...this.pending.values()].map((o) => {
      const why = notCancellable(o, this.cancelling.has(o.clientOrderId));
      return {
        symbol: o.symbol,
        type: o.type,
        side: o.side,
        quantity: o.quantity,
        stopPrice: null,
        reason: o.reason,
        time: o.time,
        clientOrderId: o.clientOrderId,
        cancellable: why === null,
        notCancellable: why,
      };
    });
    for (const p of this.engine.portfolio?.positions ?? []) {
      const guard = this.engine.protection.get(p.symbol);
      // the orders as sent (their ids) when seen live; after a restart only their prices are known
      const sent = this.protective.get(p.symbol);
      const close = p.quantity > 0 ? 'SELL' : 'BUY';
      const protectiveRow = (
        type: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET',
        price: number,
        order?: Order,
      ): OpenOrderView => ({
        symbol: p.symbol,
        type,
        side: close,
        quantity: 0,
        stopPrice: price,
        reason: order?.reason ?? (type === 'STOP_MARKET' ? 'stop' : 'take-profit'),
        time: order?.time ?? null,
        clientOrderId: order?.clientOrderId ?? null,
        cancellable: false,
        notCancellable: notCancellable({ type, reason: 'stop' }, false),
      });
      if (guard?.stop !== undefined) out.push(protectiveRow('STOP_MARKET', guard.stop, sent?.stop));
      if (guard?.takeProfit !== undefined && guard.takeProfit > 0)
        out.push(protectiveRow('TAKE_PROFIT_MARKET', guard.takeProfit, sent?.takeProfit));
    }
    return out;
  }

  /** bumped by every audit line: the dashboard's cached view keys on it beside the engine's version */
  revision = 0;

  record(line: AuditLine): void {
    this.revision++;
    this.audit.push(line);
    if (this.audit.length > AUDIT_KEEP) this.audit.splice(0, this.audit.length - AUDIT_KEEP);
  }

  #strategies = { version: -1, names: [] as string[] };
  /** the strategies STRATEGIES runs, then any other source the journal's decisions came from */
  strategies(): string[] {
    // per engine version: the dashboard asks on every request
    if (this.#strategies.version === this.engine.version) return this.#strategies.names;
    const sources = new Set<string>(strategiesNamed(this.settings.STRATEGIES).map((x) => x.name));
    for (const d of this.engine.decisions) if (d.source !== 'external') sources.add(d.source);
    this.#strategies = { version: this.engine.version, names: [...sources] };
    return this.#strategies.names;
  }

  /** the settings in force never change while the service runs: formatted once */
  #fixed: Omit<ConfigView, 'startedAt' | 'uptimeS' | 'strategies'> | null = null;

  config(now: number): ConfigView {
    this.#fixed ??= this.fixedConfig();
    return {
      ...this.#fixed,
      startedAt: this.startedAt,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      strategies: this.strategies(),
    };
  }

  private fixedConfig(): Omit<ConfigView, 'startedAt' | 'uptimeS' | 'strategies'> {
    const s = this.settings;
    const embedded = s.ASTER_REST_URL === '';
    return {
      ...this.identity,
      symbols: [...s.SYMBOLS],
      interval: s.BAR_INTERVAL,
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
