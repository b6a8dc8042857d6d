import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { mergeBars } from '../../backtests/data/index.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { FileJournal } from '../../live/journal/file-journal.ts';
import { pipelineStages } from '../../pipelines/build-pipeline.ts';
import { kernelFingerprint, KERNEL_VERSION } from '../../pipelines/fingerprint.ts';
import type { Bar, BarColumns } from '../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { runStages, type RunningStages, type StageStates } from '../../pipelines/stage-runner.ts';
import { statesFromJson, statesToJson } from '../../pipelines/stage.ts';
import { median } from '../kit.ts';
import type { Figures } from '../run.ts';

/** inputs between periodic snapshots: a restart replays at most this many */
const SNAPSHOT_EVERY = 1000;
/** bars the kernel runs before the snapshot so its state is a real one (warm features, books) */
const STATE_BARS = 20_000;

const stagesOf = (settings: Settings) => {
  const s = pipelineStages(settings, { filters: filtersFor(settings.SYMBOLS) }, () => undefined);
  return [...s.signals, ...s.decisions];
};

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

/** Writes a journal of `entries` bars whose last snapshot is SNAPSHOT_EVERY inputs before its end. */
function writeJournal(path: string, settings: Settings, bar: (i: number) => Bar, entries: number): void {
  const at = entries - SNAPSHOT_EVERY;
  const fd = openSync(path, 'w');
  const lines: string[] = [];
  const flush = (): void => {
    writeSync(fd, lines.join(''));
    lines.length = 0;
  };
  let running: RunningStages | undefined;
  const kernel = runStages(stagesOf(settings), { onOpen: (r) => (running = r) });
  const stateFrom = Math.max(0, at - STATE_BARS);
  const warm: Bar[] = [];
  for (let i = 0; i < entries; i++) {
    const b = bar(i);
    if (i >= stateFrom && i < at) warm.push(b);
    lines.push(`${JSON.stringify({ type: 'bar', time: b.time, data: b })}\n`);
    if (i + 1 === at) {
      void lastValueFrom(from(warm).pipe(kernel), { defaultValue: null });
      const data = {
        kernel: `kernel v${KERNEL_VERSION}`,
        fingerprint: kernelFingerprint(stagesOf(settings)),
        inputs: at,
        states: statesToJson(running!.snapshot()),
      };
      lines.push(`${JSON.stringify({ type: 'snapshot', time: b.time, data })}\n`);
    }
    if (lines.length >= 10_000) flush();
  }
  flush();
  closeSync(fd);
}

/** One restart: read from the last snapshot, restore every stage, replay the entries after it. */
function restart(path: string, settings: Settings): number {
  const t0 = performance.now();
  const tail = new FileJournal(path).readSinceSnapshot(kernelFingerprint(stagesOf(settings)));
  const restore = statesFromJson(tail.snapshot!.states) as StageStates;
  const bars = tail.entries.filter((e) => e.type === 'bar').map((e) => e.data as Bar);
  void lastValueFrom(from(bars).pipe(runStages(stagesOf(settings), { restore })), { defaultValue: null });
  return (performance.now() - t0) / 1000;
}

/** Restart time of the stage kernel from journals of 10k, 100k and 1M entries (target: 1M ≤ 2 s). */
export function benchJournalRestart(series: readonly BarColumns[], note: string): Figures {
  const settings = parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(',') });
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
      const path = join(dir, `journal-${label}.jsonl`);
      writeJournal(path, settings, cycledBars(bars), entries);
      const runs = [restart(path, settings), restart(path, settings), restart(path, settings)];
      out[`restart_${label}_entries_s`] = {
        value: median(runs),
        unit: 's',
        note: `${note}; last snapshot ${SNAPSHOT_EVERY} entries before the end; read, restore, replay; median of 3${label === '1m' ? '; target ≤ 2 s' : ''}`,
      };
      rmSync(path);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
