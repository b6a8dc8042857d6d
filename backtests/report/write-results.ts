import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import { join } from 'node:path';
import type { Settings } from '../../pipelines/settings.ts';
import { redactSettings } from '../../secrets/redact.ts';
import type { BacktestResult } from '../run-backtest.ts';
import type { SeedsSummary } from '../seeds/seeds.ts';
import { filtersFor } from '../../pipelines/instruments.ts';

/** Settings as recorded in a report, redacted by the one rule (secrets/redact.ts). */
export function publicSettings(settings: Settings): Record<string, unknown> {
  return redactSettings(settings);
}

export interface ResultMeta {
  dataDir: string;
  settings: Settings;
  from?: number;
  to?: number;
  /** `--seeds N`: the headline figures over N seeds (median, 5–95 % range, each run) */
  seeds?: SeedsSummary;
  /** how the run was asked for, beyond the settings (what `sapphire verify` needs to repeat it) */
  run?: RunOptions;
  /** agents on: availability, faults by kind, share of decisions without each agent */
  agents?: AgentHealth;
}

/** The backtest's command-line choices that change its figures. */
export interface RunOptions {
  closeAtEnd: boolean;
  allowGaps: boolean;
  tapeMiss: 'error' | 'skip';
  /** --funding as given (null: FUNDING_CSV) */
  funding: string | null;
  /** --filters as given */
  filters: string | null;
  seeds: number;
}

const iso = (t: number) => new Date(t).toISOString();

/** The JSON result: no wall-clock values, so the same run gives the same bytes. */
export function resultJson(result: BacktestResult, meta: ResultMeta): string {
  const doc = {
    kind: 'sapphire-backtest',
    version: 1,
    symbols: result.symbols,
    interval: meta.settings.BAR_INTERVAL,
    dataDir: meta.dataDir,
    window: { from: meta.from === undefined ? null : iso(meta.from), to: meta.to === undefined ? null : iso(meta.to) },
    start: iso(result.start),
    end: iso(result.end),
    bars: result.bars,
    metrics: result.metrics,
    final: result.final,
    counts: result.counts,
    denials: result.denials,
    riskStates: result.riskStates,
    trades: result.trades,
    // positions open at the end, marked at the last close (closed trades with --close-at-end)
    openTrades: result.openTrades,
    gaps: result.gaps.map((g) => ({ ...g, lastBefore: iso(g.lastBefore), firstAfter: iso(g.firstAfter) })),
    warnings: result.warnings,
    warmUpBars: result.warmUpBars,
    // per strategy: trades, net PnL, win rate, allocation (share of each entry) over time
    strategies: result.strategies,
    settings: publicSettings(meta.settings),
    ...(meta.run ? { run: meta.run } : {}),
    ...(meta.seeds ? { seeds: meta.seeds } : {}),
    ...(meta.agents ? { agents: meta.agents } : {}),
  };
  // NaN/Infinity are not JSON: write null rather than a string that parses to something else
  return `${JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/** Decimal places of a trades.csv row: the instrument's price and quantity precision. */
export interface CsvPrecision {
  pricePrecision: number;
  quantityPrecision: number;
}

/** USDT amounts (PnL, fees, funding): 8 decimals, Aster's quote precision. */
const MONEY_DECIMALS = 8;
/** return_pct: percent to 6 decimals (a hundredth of a basis point). */
const PERCENT_DECIMALS = 6;

/** `v` rounded to `digits` decimals without float noise, trailing zeros or "-0". */
export function decimal(v: number, digits: number): string {
  if (!Number.isFinite(v)) return '';
  const s = v.toFixed(digits);
  const trimmed = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return trimmed === '-0' ? '0' : trimmed;
}

/**
 * One row per trade: closed ones (`status` closed), then the positions open at the end (`status`
 * open: exit time and price are the last bar's close and mark, pnl is realised + unrealised, no
 * exit reason). Prices and quantities at the instrument's precision (`precision`, default the
 * bundled exchange filters), USDT amounts at 8 decimals.
 */
export function tradesCsv(
  result: BacktestResult,
  precision: ReadonlyMap<string, CsvPrecision> = filtersFor(result.symbols),
): string {
  const head =
    'symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees,funding,net_pnl,return_pct,exit_reason,status,explored';
  const of = (symbol: string) => precision.get(symbol) ?? { pricePrecision: 8, quantityPrecision: 8 };
  const money = (v: number) => decimal(v, MONEY_DECIMALS);
  const rows = result.trades.map((t) => {
    const p = of(t.symbol);
    return [
      t.symbol,
      t.side,
      decimal(t.quantity, p.quantityPrecision),
      iso(t.openedAt),
      decimal(t.entryPrice, p.pricePrecision),
      iso(t.time),
      decimal(t.exitPrice, p.pricePrecision),
      money(t.pnl),
      money(t.fees),
      money(t.funding),
      money(t.netPnl),
      decimal(t.returnPct * 100, PERCENT_DECIMALS),
      t.exitReason,
      'closed',
      t.explored === true,
    ].join(',');
  });
  const open = result.openTrades.map((t) => {
    const p = of(t.symbol);
    return [
      t.symbol,
      t.side,
      decimal(t.quantity, p.quantityPrecision),
      iso(t.openedAt),
      decimal(t.entryPrice, p.pricePrecision),
      iso(t.markedAt),
      decimal(t.markPrice, p.pricePrecision),
      money(t.realizedPnl + t.unrealizedPnl),
      money(t.fees),
      money(t.funding),
      money(t.netPnl),
      decimal(t.returnPct * 100, PERCENT_DECIMALS),
      '',
      'open',
      '',
    ].join(',');
  });
  return `${[head, ...rows, ...open].join('\n')}\n`;
}

export function equityCsv(result: BacktestResult): string {
  let peak = -Infinity;
  const rows = result.equity.map((p) => {
    peak = Math.max(peak, p.equity);
    return `${iso(p.time)},${p.equity},${peak > 0 ? 1 - p.equity / peak : 0}`;
  });
  return `${['time,equity,drawdown', ...rows].join('\n')}\n`;
}

/** Writes each file to a temporary name and renames it, so a crash never leaves half a report. */
export function writeResults(dir: string, files: Record<string, string>): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
    written.push(path);
  }
  return written;
}
