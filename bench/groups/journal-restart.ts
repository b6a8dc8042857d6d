import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEVER } from 'rxjs';
import { mergeBars } from '../../backtests/data/index.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { FileJournal } from '../../live/journal/file-journal.ts';
import { TradingEngine } from '../../live/engine/trading-engine.ts';
import type { VenuePort } from '../../live/engine/venue-reconciler.ts';
import type { Bar, BarColumns } from '../../pipelines/model/index.ts';
import type { ExecutionPort } from '../../pipelines/ports.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { median } from '../kit.ts';
import type { Figures } from '../run.ts';

/** inputs between periodic snapshots: a restart replays at most this many */
const SNAPSHOT_EVERY = 1000;
/** bars the engine runs before its snapshot so the state is a real one (warm features, books) */
const STATE_BARS = 20_000;

/**
 * The real bars, cycled as often as `count` needs, each cycle shifted by the data's span so time
 * only moves forward (prices are the data's own; only the later cycles' times are shifted).
 */
function cycledBars(bars: readonly Bar[]): (i: number) => Bar {
  const span = bars.at(-1)!.time - bars[0]!.time + (bars[1]!.time - bars[0]!.time || 300_000);
  return (i) => {
    const b = bars[i % bars.length]!;
    const shift = Math.floor(i / bars.length) * span;
    return shift === 0 ? b : { ...b, openTime: b.openTime + shift, time: b.time + shift };
  };
}

/** A live venue that has nothing to report: the restart's reconciliation costs no exchange time. */
const quietVenue: VenuePort = {
  reconcile: async () => [],
  verify: async () => null,
  adoptWorking: () => undefined,
  holdings: async () => ({ positions: [], orders: [] }),
  cancel: async () => undefined,
};
const noOrders: ExecutionPort = { attach: () => (bars) => bars };

/**
 * A paper engine on `journal` (or, in live mode, one with a venue reconciler over an exchange that
 * has nothing to report), following no market (a restart measures the start alone).
 */
function engineOn(journal: FileJournal, settings: Settings, warmup: Bar[] = []): TradingEngine {
  const filters = filtersFor(settings.SYMBOLS);
  const live = settings.TRADING_MODE === 'live';
  return new TradingEngine({
    settings,
    filters,
    market: NEVER,
    warmup: async () => warmup,
    execution: live ? noOrders : simulatedVenue(settings, { filters }),
    journal,
    clock: { now: () => 0 },
    venue: live ? quietVenue : undefined,
  });
}

/** The engine's snapshot record after `bars` (a real one: the engine writes it after its warm-up). */
async function snapshotLine(dir: string, settings: Settings, bars: Bar[]): Promise<string> {
  const journal = new FileJournal(join(dir, 'state.jsonl'));
  const engine = engineOn(journal, settings, bars);
  await engine.start();
  await engine.shutdown();
  journal.close();
  const lines = readFileSync(journal.path, 'utf8').trimEnd().split('\n');
  rmSync(journal.path);
  return `${lines.findLast((l) => l.startsWith('{"type":"snapshot"'))!}\n`;
}

/** Writes a journal of `entries` bars whose last snapshot is SNAPSHOT_EVERY inputs before its end. */
async function writeJournal(dir: string, settings: Settings, bar: (i: number) => Bar, entries: number) {
  const at = entries - SNAPSHOT_EVERY;
  const warm: Bar[] = [];
  for (let i = Math.max(0, at - STATE_BARS); i < at; i++) warm.push(bar(i));
  const snapshot = await snapshotLine(dir, settings, warm);
  const path = join(dir, `journal-${entries}.jsonl`);
  const fd = openSync(path, 'w');
  const lines: string[] = [];
  for (let i = 0; i < entries; i++) {
    if (i === at) lines.push(snapshot);
    const b = bar(i);
    lines.push(`${JSON.stringify({ type: 'bar', time: b.time, data: b })}\n`);
    if (lines.length >= 10_000) writeSync(fd, lines.splice(0).join(''));
  }
  writeSync(fd, lines.join(''));
  closeSync(fd);
  return path;
}

/** One restart as the service does it: header, last snapshot restored, the entries after it replayed. */
async function restart(path: string, settings: Settings): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const journal = new FileJournal(path);
  journal.readFirst();
  const engine = engineOn(journal, settings);
  await engine.start();
  const cpu = process.cpuUsage(cpu0);
  const seconds = { wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  if (engine.counts.replayed !== SNAPSHOT_EVERY) throw new Error(`replayed ${engine.counts.replayed} entries`);
  await engine.shutdown();
  journal.close();
  return seconds;
}

/**
 * Restart time of the engine from journals of 10k, 100k and 1M entries (target: 1M ≤ 2 s): paper
 * without agents, or (`liveAgents`) live mode with the embedded agents, whose rows end `_live_agents`.
 */
export async function benchJournalRestart(
  series: readonly BarColumns[],
  note: string,
  liveAgents = false,
): Promise<Figures> {
  const settings = parseSettings({
    SYMBOLS: series.map((c) => c.symbol).join(','),
    AGENTS_ENABLED: String(liveAgents),
    ...(liveAgents ? { TRADING_MODE: 'live', ENABLE_PAPER_TRADING: 'false' } : {}),
    JOURNAL_SNAPSHOT_EVERY: String(SNAPSHOT_EVERY),
  });
  const suffix = liveAgents ? '_live_agents' : '';
  const what = liveAgents ? 'live engine with the embedded agents' : 'paper engine';
  const bars: Bar[] = [];
  mergeBars(series).subscribe((b) => bars.push(b));
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-bench-journal-'));
  const out: Figures = {};
  try {
    for (const [label, entries] of [
      ['10k', 10_000],
      ['100k', 100_000],
      ['1m', 1_000_000],
    ] as const) {
      const path = await writeJournal(dir, settings, cycledBars(bars), entries);
      const runs = [await restart(path, settings), await restart(path, settings), await restart(path, settings)];
      out[`restart_${label}_entries${suffix}_cpu_s`] = {
        value: median(runs.map((r) => r.cpu)),
        unit: 's',
        note: 'CPU time (user + system) of the same restarts: what the wall time is on an idle core',
      };
      out[`restart_${label}_entries${suffix}_s`] = {
        value: median(runs.map((r) => r.wall)),
        unit: 's',
        note: `${note}; ${what} start: journal store reads from the last snapshot (${SNAPSHOT_EVERY} entries before the end), restores kernel and read models, replays the rest; median of 3${label === '1m' ? '; target ≤ 2 s' : ''}`,
      };
      rmSync(path);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
