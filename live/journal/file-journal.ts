import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, ftruncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JournalEntry, JournalPort } from '../../pipelines/ports.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { checkJournalEntry, SnapshotData } from './journal-schema.ts';

/** What a start reads: the last snapshot (if any) and only the entries written after it. */
export interface JournalTail {
  readonly snapshot: SnapshotData | null;
  readonly entries: JournalEntry[];
}

const SNAPSHOT_MARK = Buffer.from('{"type":"snapshot"');

/**
 * The service's memory across restarts: every input the pipeline consumed (bars, operator
 * commands, external decisions), one JSON line each, appended and fsync'd BEFORE the input is
 * processed. Replaying it through the same pipeline rebuilds the exact state (positions, stops,
 * risk state, bandit arms) — the pipeline is deterministic — so a restarted service never
 * forgets a position and re-derives, rather than re-sends, the orders it already made.
 *
 * A crash can tear the last line; the torn tail is cut off on open (it was never processed,
 * because processing waits for the fsync). Damage anywhere else is an error naming the line.
 */
export class FileJournal implements JournalPort {
  private fd: number | null = null;
  readonly path: string;
  private entries = 0;

  constructor(path: string) {
    this.path = path;
  }

  private open(): number {
    if (this.fd !== null) return this.fd;
    this.repairTornTail();
    this.fd = this.unreadable('written', () => {
      mkdirSync(dirname(this.path), { recursive: true });
      return openSync(this.path, 'a');
    });
    return this.fd;
  }

  /** A file-system failure (a directory, no permission) as an error naming JOURNAL_PATH. */
  private unreadable<T>(what: string, act: () => T): T {
    try {
      return act();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new SapphireError('JOURNAL_INVALID', `JOURNAL_PATH=${this.path} cannot be ${what}: ${detail}`);
    }
  }

  private repairTornTail(): void {
    if (!existsSync(this.path)) return;
    const data = this.unreadable('read', () => readFileSync(this.path));
    if (data.length === 0 || data[data.length - 1] === 0x0a) return;
    const lastNewline = data.lastIndexOf(0x0a);
    const fd = openSync(this.path, 'r+');
    try {
      ftruncateSync(fd, lastNewline + 1);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  async append(entry: JournalEntry): Promise<void> {
    this.appendSync(entry);
  }

  /** Appends and fsyncs one entry; returns after it is on disk. */
  appendSync(entry: JournalEntry): void {
    const fd = this.open();
    writeSync(fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(fd);
    this.entries++;
  }

  /** Appends several entries with one fsync (warm-up history): all on disk when it returns. */
  appendManySync(entries: readonly JournalEntry[]): void {
    if (entries.length === 0) return;
    const fd = this.open();
    writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    fsyncSync(fd);
    this.entries += entries.length;
  }

  async *replay(): AsyncIterable<JournalEntry> {
    for (const e of this.readAll()) yield e;
  }

  /** Every complete entry on disk, in order. */
  readAll(): JournalEntry[] {
    if (!existsSync(this.path)) return [];
    this.repairTornTail();
    const text = this.unreadable('read', () => readFileSync(this.path, 'utf8'));
    return this.parseLines(text, 0);
  }

  /**
   * Appends a snapshot record (one fsync). A start then reads only from the last one on: restart
   * time follows the entries since the last snapshot, not the journal's length.
   */
  appendSnapshotSync(time: number, snapshot: SnapshotData): void {
    this.appendSync({ type: 'snapshot', time, data: snapshot });
  }

  /**
   * The last snapshot and the entries after it, parsed from the end of the file: the bytes before
   * the snapshot are searched, never parsed. With no snapshot, every entry. A last snapshot whose
   * fingerprint is not `fingerprint` (other strategy settings, another kernel) is refused: the
   * history it summarises was made by another strategy, and re-deriving it would send that
   * strategy's orders.
   */
  readSinceSnapshot(fingerprint: string): JournalTail {
    if (!existsSync(this.path)) return { snapshot: null, entries: [] };
    this.repairTornTail();
    const data = this.unreadable('read', () => readFileSync(this.path));
    let at = data.lastIndexOf(SNAPSHOT_MARK);
    while (at > 0 && data[at - 1] !== 0x0a) at = data.lastIndexOf(SNAPSHOT_MARK, at - 1);
    if (at < 0) return { snapshot: null, entries: this.parseLines(data.toString('utf8'), 0) };
    const lineNo = countLines(data, at);
    const text = data.toString('utf8', at);
    const [first] = this.parseLines(text.slice(0, text.indexOf('\n') + 1), lineNo);
    const snapshot = first!.data as SnapshotData;
    if (snapshot.fingerprint !== fingerprint) {
      throw new SapphireError(
        'JOURNAL_INVALID',
        `${this.path}:${lineNo + 1}: the last snapshot was taken with fingerprint ${snapshot.fingerprint} ` +
          `(${snapshot.kernel}), these settings give ${fingerprint}: the strategy settings or the kernel changed. ` +
          'Start with the settings the journal was written with, or start from the exchange with a new JOURNAL_PATH',
      );
    }
    const entries = this.parseLines(text.slice(text.indexOf('\n') + 1), lineNo + 1);
    return { snapshot, entries };
  }

  /** JSON lines to checked entries; `lineNo` is the number of lines before `text` (for errors). */
  private parseLines(text: string, firstLine: number): JournalEntry[] {
    const out: JournalEntry[] = [];
    let lineNo = firstLine;
    for (const line of text.split('\n')) {
      lineNo++;
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new SapphireError('JOURNAL_INVALID', `${this.path}:${lineNo}: journal line is not JSON`);
      }
      const checked = checkJournalEntry(parsed);
      if ('problem' in checked) {
        throw new SapphireError(
          'JOURNAL_INVALID',
          `${this.path}:${lineNo}: journal entry is invalid (${checked.problem}); ` +
            'fix or remove the line, or start with another JOURNAL_PATH',
        );
      }
      out.push(checked.entry);
    }
    return out;
  }

  get appended(): number {
    return this.entries;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function countLines(data: Buffer, end: number): number {
  let n = 0;
  for (let i = data.indexOf(0x0a); i >= 0 && i < end; i = data.indexOf(0x0a, i + 1)) n++;
  return n;
}
