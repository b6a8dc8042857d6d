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
        inputs: i + 1,
        states: statesToJson(running!.snapshot()),
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

    const tail = new FileJournal(second.path).readSinceSnapshot(kernelFingerprint(stages()));
    expect(tail.snapshot?.inputs).toBe(cut);
    expect(tail.entries).toEqual([]);
    const restarted = kernelRun(bars.slice(cut), undefined, -1, statesFromJson(tail.snapshot!.states) as StageStates);
    expect(restarted.out).toEqual(whole.out.slice(before.out.length));
    expect(journal.readSinceSnapshot(kernelFingerprint(stages())).entries).toHaveLength(
      bars.length - Math.floor(bars.length / 3),
    );
  });

  it('refuses a snapshot taken with other strategy settings, naming the line and both fingerprints', () => {
    const journal = new FileJournal(journalPath());
    kernelRun(bars.slice(0, 400), journal, 300);
    const other = pipelineStages(activeSettings({ MOMENTUM_THRESHOLD: 0.5 }), { filters }, () => undefined);
    const theirs = kernelFingerprint([...other.signals, ...other.decisions]);
    expect(theirs).not.toBe(kernelFingerprint(stages()));
    expect(() => journal.readSinceSnapshot(theirs)).toThrow(
      new RegExp(
        `journal.jsonl:301: the last snapshot was taken with fingerprint ${kernelFingerprint(stages())}.*these settings give ${theirs}`,
      ),
    );
  });

  it('without a snapshot gives every entry; a damaged line after the snapshot is named by its line', () => {
    const journal = new FileJournal(journalPath());
    kernelRun(bars.slice(0, 50), journal);
    expect(journal.readSinceSnapshot('any').entries).toHaveLength(50);
    kernelRun(bars.slice(50, 60), journal, 5);
    journal.close();
    appendFileSync(journal.path, '{"type":"bar","time":1,"data":{}}\n');
    expect(() => new FileJournal(journal.path).readSinceSnapshot(kernelFingerprint(stages()))).toThrow(
      /journal\.jsonl:62: journal entry is invalid/,
    );
  });
});
