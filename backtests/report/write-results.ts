import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import { join } from 'node:path';
import type { Settings } from '../../pipelines/settings.ts';
import { SECRET_SETTING_NAMES } from '../../pipelines/settings-kit.ts';
import type { BacktestResult } from '../run-backtest.ts';
import type { SeedsSummary } from '../seeds/seeds.ts';

/** Settings as recorded in a report: every value except secrets (which never leave the process). */
export function publicSettings(settings: Settings): Record<string, unknown> {
  const secret = new Set<string>(SECRET_SETTING_NAMES);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) out[k] = secret.has(k) ? (v === '' ? '' : '[set]') : v;
  return out;
}

export interface ResultMeta {
  dataDir: string;
  settings: Settings;
  from?: number;
  to?: number;
  /** `--seeds N`: the headline figures over N seeds (median, 5–95 % range, each run) */
  seeds?: SeedsSummary;
  /** agents on: availability, faults by kind, share of decisions without each agent */
  agents?: AgentHealth;
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
    settings: publicSettings(meta.settings),
    ...(meta.seeds ? { seeds: meta.seeds } : {}),
    ...(meta.agents ? { agents: meta.agents } : {}),
  };
  // NaN/Infinity are not JSON: write null rather than a string that parses to something else
  return `${JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/**
 * One row per trade: closed ones (`status` closed), then the positions open at the end (`status`
 * open: exit time and price are the last bar's close and mark, pnl is realised + unrealised, no
 * exit reason).
 */
export function tradesCsv(result: BacktestResult): string {
  const head =
    'symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees,funding,net_pnl,return_pct,exit_reason,status,explored';
  const rows = result.trades.map((t) =>
    [
      t.symbol,
      t.side,
      t.quantity,
      iso(t.openedAt),
      t.entryPrice,
      iso(t.time),
      t.exitPrice,
      t.pnl,
      t.fees,
      t.funding,
      t.netPnl,
      t.returnPct * 100,
      t.exitReason,
      'closed',
      t.explored === true,
    ].join(','),
  );
  const open = result.openTrades.map((t) =>
    [
      t.symbol,
      t.side,
      t.quantity,
      iso(t.openedAt),
      t.entryPrice,
      iso(t.markedAt),
      t.markPrice,
      t.realizedPnl + t.unrealizedPnl,
      t.fees,
      t.funding,
      t.netPnl,
      t.returnPct * 100,
      '',
      'open',
      '',
    ].join(','),
  );
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
