import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
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
const NEWLINE = 0x0a;
/** bytes read per step when the journal is searched from its end */
const CHUNK = 1 << 20;

/**
 * The one torn-line rule of every JSON-lines file we append to: a crash can tear only the last
 * line (each write ends with a newline and an fsync), so bytes after the last newline were never
 * acted on and are cut off. Reads only the file's end, so it costs the same for any length.
 */
export function cutTornTail(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const keep = lastNewlineBefore(fd, size) + 1;
    if (keep === size) return;
    ftruncateSync(fd, keep);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The offset of the last newline before `end` (−1: none), read backwards in chunks. */
function lastNewlineBefore(fd: number, end: number): number {
  let to = end;
  while (to > 0) {
    const from = Math.max(0, to - CHUNK);
    const buf = Buffer.alloc(to - from);
    readSync(fd, buf, 0, buf.length, from);
    const at = buf.lastIndexOf(NEWLINE);
    if (at >= 0) return from + at;
    to = from;
  }
  return -1;
}

/**
 * The offset of the last line that starts with SNAPSHOT_MARK (−1: none), searched from the end of
 * the file in chunks: a start never reads the bytes before the last snapshot.
 */
function lastSnapshotOffset(fd: number, size: number): number {
  let to = size;
  let carry = Buffer.alloc(0);
  while (to > 0) {
    const from = Math.max(0, to - CHUNK);
    const chunk = Buffer.alloc(to - from);
    readSync(fd, chunk, 0, chunk.length, from);
    // the mark may straddle two chunks: keep the head of the later one
    const buf = Buffer.concat([chunk, carry]);
    let at = buf.lastIndexOf(SNAPSHOT_MARK);
    while (at >= 0) {
      if (from + at === 0 || buf[at - 1] === NEWLINE) return from + at;
      if (at === 0) break;
      at = buf.lastIndexOf(SNAPSHOT_MARK, at - 1);
    }
    carry = chunk.subarray(0, Math.min(chunk.length, SNAPSHOT_MARK.length));
    to = from;
  }
  return -1;
}

/**
 * The service's memory across restarts, and the one journal store: every input the pipeline
 * consumed (bars, operator commands, external decisions), and for a real venue every order and
 * venue event, one JSON line each, appended and fsync'd BEFORE the input is processed. Periodic
 * snapshot records hold the kernel's state, so a start restores the last snapshot and replays
 * only the lines after it; the pipeline is deterministic, so the state is exactly the one an
 * uninterrupted run has.
 *
 * A crash can tear the last line; the torn tail is cut off on open (cutTornTail). Damage anywhere
 * else is an error naming the file and line. Every line read is validated (journal-schema.ts).
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
    this.unreadable('read', () => cutTornTail(this.path));
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
      if (error instanceof SapphireError) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new SapphireError('JOURNAL_INVALID', `JOURNAL_PATH=${this.path} cannot be ${what}: ${detail}`);
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

  /** Every complete entry on disk, in order (tools and tests; a start reads `readSinceSnapshot`). */
  readAll(): JournalEntry[] {
    if (!existsSync(this.path)) return [];
    this.unreadable('read', () => cutTornTail(this.path));
    const text = this.unreadable('read', () => readFileSync(this.path, 'utf8'));
    return this.parseLines(text, () => 0);
  }

  /** The first entry (the journal's header, `meta`, when it has one), read without the rest. */
  readFirst(): JournalEntry | null {
    if (!existsSync(this.path)) return null;
    return this.unreadable('read', () => {
      cutTornTail(this.path);
      const fd = openSync(this.path, 'r');
      try {
        const size = fstatSync(fd).size;
        let length = Math.min(size, 64 * 1024);
        for (;;) {
          const buf = Buffer.alloc(length);
          readSync(fd, buf, 0, length, 0);
          const end = buf.indexOf(NEWLINE);
          if (end >= 0 || length === size) {
            return this.parseLines(buf.toString('utf8', 0, end < 0 ? length : end + 1), () => 0)[0] ?? null;
          }
          length = Math.min(size, length * 4);
        }
      } finally {
        closeSync(fd);
      }
    });
  }

  /**
   * Appends a snapshot record (one fsync). A start then reads only from the last one on: restart
   * time follows the entries since the last snapshot, not the journal's length.
   */
  appendSnapshotSync(time: number, snapshot: SnapshotData): void {
    this.appendSync({ type: 'snapshot', time, data: snapshot });
  }

  /**
   * The last snapshot and the entries after it. The file is searched backwards for the last
   * snapshot line, and only the bytes from it on are read and parsed, so the cost does not grow
   * with the journal. With no snapshot, every entry. The caller checks the snapshot's fingerprint
   * (it knows what changed; see live/engine/engine-snapshot.ts).
   */
  readSinceSnapshot(): JournalTail {
    if (!existsSync(this.path)) return { snapshot: null, entries: [] };
    const { at, text } = this.unreadable('read', () => {
      cutTornTail(this.path);
      const fd = openSync(this.path, 'r');
      try {
        const size = fstatSync(fd).size;
        const snapshotAt = lastSnapshotOffset(fd, size);
        const from = Math.max(0, snapshotAt);
        const buf = Buffer.alloc(size - from);
        readSync(fd, buf, 0, buf.length, from);
        return { at: snapshotAt, text: buf.toString('utf8') };
      } finally {
        closeSync(fd);
      }
    });
    // line numbers are only counted when an error needs one
    const linesBefore = () => (at <= 0 ? 0 : this.countLinesBefore(at));
    if (at < 0) return { snapshot: null, entries: this.parseLines(text, linesBefore) };
    const firstEnd = text.indexOf('\n') + 1;
    const [first] = this.parseLines(text.slice(0, firstEnd), linesBefore);
    const entries = this.parseLines(text.slice(firstEnd), () => linesBefore() + 1);
    return { snapshot: SnapshotData.parse(first!.data), entries };
  }

  /** The line number of the last snapshot (0: none), for an error message (reads the bytes before it). */
  snapshotLine(): number {
    if (!existsSync(this.path)) return 0;
    const fd = openSync(this.path, 'r');
    try {
      const at = lastSnapshotOffset(fd, fstatSync(fd).size);
      return at < 0 ? 0 : this.countLinesBefore(at) + 1;
    } finally {
      closeSync(fd);
    }
  }

  private countLinesBefore(end: number): number {
    const data = readFileSync(this.path).subarray(0, end);
    let n = 0;
    for (let i = data.indexOf(NEWLINE); i >= 0; i = data.indexOf(NEWLINE, i + 1)) n++;
    return n;
  }

  /** JSON lines to checked entries; `linesBefore` gives the lines before `text` (for errors only). */
  private parseLines(text: string, linesBefore: () => number): JournalEntry[] {
    const out: JournalEntry[] = [];
    let lineInText = 0;
    const where = () => `${this.path}:${linesBefore() + lineInText}`;
    for (const line of text.split('\n')) {
      lineInText++;
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new SapphireError('JOURNAL_INVALID', `${where()}: journal line is not JSON`);
      }
      const checked = checkJournalEntry(parsed);
      if ('problem' in checked) {
        throw new SapphireError(
          'JOURNAL_INVALID',
          `${where()}: journal entry is invalid (${checked.problem}); ` +
            'fix or remove the line, or start with another JOURNAL_PATH',
        );
      }
      out.push(checked.entry);
    }
    return out;
  }

  /**
   * Renames the journal to `<path>.superseded-<time>` (kept for the record, never replayed) so a
   * new one begins at `path`. Returns the new name of the old file.
   */
  setAside(time: number): string {
    this.close();
    const to = `${this.path}.superseded-${time}`;
    this.unreadable('renamed', () => renameSync(this.path, to));
    return to;
  }

  get appended(): number {
    return this.entries;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
