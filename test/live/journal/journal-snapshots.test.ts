import { mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { pipelineStages } from '../../../pipelines/build-pipeline.ts';
import { kernelFingerprint, KERNEL_VERSION } from '../../../pipelines/fingerprint.ts';
import { runStages, type RunningStages, type StageStates } from '../../../pipelines/stage-runner.ts';
import { statesFromJson, statesToJson } from '../../../pipelines/stage.ts';
import type { Bar, PipelineEvent } from '../../../pipelines/model/index.ts';
import { filtersFor } from '../../../pipelines/instruments.ts';
import { activeSettings } from '../../kit/pipeline-kit.ts';
import { mergedFixtureBars } from '../../kit/fixture-bars.ts';

const settings = activeSettings();
const filters = filtersFor(settings.SYMBOLS);
const stages = () => {
  const s = pipelineStages(settings, { filters }, () => undefined);
  return [...s.signals, ...s.decisions];
};
const bars = mergedFixtureBars(['BTCUSDT', 'ETHUSDT']);
const journalPath = () => join(mkdtempSync(join(tmpdir(), 'kernel-journal-')), 'journal.jsonl');

/** runs the kernel over bars; snapshots into the journal after `snapshotAfter` bars */
function kernelRun(input: readonly Bar[], journal?: FileJournal, snapshotAfter = -1, restore?: StageStates) {
  let running: RunningStages | undefined;
  const out: PipelineEvent[] = [];
  const source = new Subject<PipelineEvent>();
  source.pipe(runStages(stages(), { onOpen: (r) => (running = r), restore })).subscribe((e) => out.push(e));
  input.forEach((bar, i) => {
    journal?.appendSync({ type: 'bar', time: bar.time, data: bar });
    source.next(bar);
    if (i + 1 === snapshotAfter) {
      journal!.appendSnapshotSync(bar.time, {
        kernel: `kernel v${KERNEL_VERSION}`,
        fingerprint: kernelFingerprint(stages()),
        code: 'test',
        settings: '{}',
        inputs: i + 1,
        lastInputTime: bar.time,
        states: statesToJson(running!.snapshot()),
        engine: '{}',
      });
    }
  });
  return { out, running: running! };
}

describe('journal snapshots', () => {
  it('a restart reads only what follows the last snapshot, and goes on exactly as the run that never stopped', () => {
    const journal = new FileJournal(journalPath());
    const whole = kernelRun(bars);
    kernelRun(bars, journal, Math.floor(bars.length / 3));
    const cut = Math.floor((bars.length * 2) / 3);
    const second = new FileJournal(journalPath());
    const before = kernelRun(bars.slice(0, cut), second, cut);
    second.close();

    const tail = new FileJournal(second.path).readSinceSnapshot();
    expect(tail.snapshot?.inputs).toBe(cut);
    expect(tail.entries).toEqual([]);
    const restarted = kernelRun(bars.slice(cut), undefined, -1, statesFromJson(tail.snapshot!.states) as StageStates);
    expect(restarted.out).toEqual(whole.out.slice(before.out.length));
    expect(journal.readSinceSnapshot().entries).toHaveLength(bars.length - Math.floor(bars.length / 3));
  });

  it('finds the last snapshot from the end of a journal much longer than one read chunk, and names its line', () => {
    const path = journalPath();
    // 4 MB of earlier history (four read chunks): never parsed, only searched
    const early = `${JSON.stringify({ type: 'bar', time: bars[0]!.time, data: bars[0] })}\n`;
    appendFileSync(path, early.repeat(Math.ceil((4 << 20) / early.length)));
    const before = Math.ceil((4 << 20) / early.length);
    const journal = new FileJournal(path);
    kernelRun(bars, journal, 300);
    const tail = journal.readSinceSnapshot();
    expect(tail.snapshot?.inputs).toBe(300);
    expect(tail.entries).toHaveLength(bars.length - 300);
    expect(journal.snapshotLine()).toBe(before + 301);
  });

  it('without a snapshot gives every entry; a damaged line after the snapshot is named by its line', () => {
    const journal = new FileJournal(journalPath());
    kernelRun(bars.slice(0, 50), journal);
    expect(journal.readSinceSnapshot().entries).toHaveLength(50);
    kernelRun(bars.slice(50, 60), journal, 5);
    journal.close();
    appendFileSync(journal.path, '{"type":"bar","time":1,"data":{}}\n');
    expect(() => new FileJournal(journal.path).readSinceSnapshot()).toThrow(
      /journal\.jsonl:62: journal entry is invalid/,
    );
  });
});
