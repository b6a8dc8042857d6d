import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  ftruncateSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { SapphireError, type ErrorCode } from './errors.ts';

/**
 * The one JSON-lines file rule of the product (study journal, agent tapes, orchestrator journal):
 * - a line is complete once its newline is written; writers append whole lines and fsync;
 * - a crash can only tear the LAST line (no newline yet). Whoever opens the file for writing cuts
 *   that tail off: nothing acted on it, since every caller waits for the write to return;
 * - a reader never parses an unterminated tail (another process may still be writing it);
 * - a complete line that is not JSON is damage, an error naming `path:line`, never skipped.
 */

/** What the errors of one log say: its name in words and the error code it fails with. */
export interface JsonLinesLabel {
  /** e.g. "orchestrator journal": the errors read "<path>:<line>: orchestrator journal line is not JSON" */
  readonly what: string;
  readonly code: ErrorCode;
  /** appended to every damage error: what the operator can do about it */
  readonly fix?: string;
}

export interface JsonLine {
  /** 1-based line number in the file */
  readonly lineNo: number;
  readonly value: unknown;
}

/** Where a chunked reader stands; `START` is a file's beginning. */
export interface JsonLinesCursor {
  /** byte offset just past the last complete line read: where the next read starts */
  readonly offset: number;
  /** lines before `offset` (blank ones included), to number the next lines */
  readonly lineCount: number;
}

/** A read: its complete lines, and the cursor after them (pass it to the next read). */
export interface JsonLinesChunk extends JsonLinesCursor {
  readonly lines: readonly JsonLine[];
  /** bytes after `offset` without a newline yet: a torn or in-progress last line */
  readonly tailBytes: number;
}
export const START: JsonLinesCursor = { offset: 0, lineCount: 0 };

function fileFailure<T>(path: string, label: JsonLinesLabel, doing: string, act: () => T): T {
  try {
    return act();
  } catch (error) {
    if (error instanceof SapphireError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new SapphireError(label.code, `${label.what} ${path} cannot be ${doing}: ${detail}`);
  }
}

function readBytesFrom(fd: number, from: number): Buffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(Math.max(0, size - from));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Parses the complete lines of `bytes`; `firstLineNo` numbers the first one. */
function parseLines(path: string, label: JsonLinesLabel, bytes: Buffer, firstLineNo: number): JsonLine[] {
  const lines: JsonLine[] = [];
  const texts = bytes.toString('utf8').split('\n');
  texts.pop(); // what follows the last newline: '' for complete bytes
  texts.forEach((text, i) => {
    if (text.trim() === '') return;
    const lineNo = firstLineNo + i;
    try {
      lines.push({ lineNo, value: JSON.parse(text) as unknown });
    } catch {
      throw new SapphireError(label.code, `${path}:${lineNo}: ${label.what} line is not JSON${label.fix ?? ''}`);
    }
  });
  return lines;
}

/**
 * Reads the complete lines from `cursor` on (a missing file reads as empty). The unterminated
 * tail, if any, is left for a later read or for `JsonLinesAppender` to cut.
 */
export function readJsonLines(path: string, label: JsonLinesLabel, cursor: JsonLinesCursor = START): JsonLinesChunk {
  if (!existsSync(path)) return { lines: [], offset: cursor.offset, lineCount: cursor.lineCount, tailBytes: 0 };
  const bytes = fileFailure(path, label, 'read', () => {
    const fd = openSync(path, 'r');
    try {
      return readBytesFrom(fd, cursor.offset);
    } finally {
      closeSync(fd);
    }
  });
  const complete = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
  const lines = parseLines(path, label, complete, cursor.lineCount + 1);
  let newlines = 0;
  for (const byte of complete) if (byte === 0x0a) newlines++;
  return {
    lines,
    offset: cursor.offset + complete.length,
    lineCount: cursor.lineCount + newlines,
    tailBytes: bytes.length - complete.length,
  };
}

/**
 * An open JSON-lines file for appending. Opening cuts a torn last line off (see the rule above),
 * so the first line appended never glues onto a fragment. Every append is fsync'd before it
 * returns: a caller that waits for `append` knows the line survives a crash.
 */
export class JsonLinesAppender {
  #fd: number | undefined;

  constructor(
    readonly path: string,
    private readonly label: JsonLinesLabel,
  ) {
    this.#fd = fileFailure(path, label, 'opened', () => {
      mkdirSync(dirname(path), { recursive: true });
      return openSync(path, existsSync(path) ? 'r+' : 'w+');
    });
    this.cutTornTail();
  }

  /** Cuts an unterminated last line off (a writer died mid-line). Returns the bytes cut. */
  cutTornTail(): number {
    const fd = this.fd();
    return fileFailure(this.path, this.label, 'repaired', () => {
      const size = fstatSync(fd).size;
      const bytes = readBytesFrom(fd, Math.max(0, size - 64 * 1024));
      const lastNewline = bytes.lastIndexOf(0x0a);
      if (lastNewline === bytes.length - 1 || bytes.length === 0) return 0;
      // a torn line longer than the window read: find its start further back
      const keep = lastNewline >= 0 ? size - bytes.length + lastNewline + 1 : lastCompleteEnd(fd, size);
      ftruncateSync(fd, keep);
      fsyncSync(fd);
      return size - keep;
    });
  }

  /** Appends one value as one line and fsyncs. */
  append(value: unknown): void {
    this.appendAll([value]);
  }

  /** Appends several lines with one fsync: all on disk when it returns. */
  appendAll(values: readonly unknown[]): void {
    if (values.length === 0) return;
    const fd = this.fd();
    const text = values.map((v) => `${JSON.stringify(v)}\n`).join('');
    fileFailure(this.path, this.label, 'written', () => {
      const size = fstatSync(fd).size;
      writeSync(fd, text, size);
      fsyncSync(fd);
    });
  }

  /** Replaces the whole file with these lines (a compaction), fsync'd. */
  rewrite(values: readonly unknown[]): void {
    const fd = this.fd();
    fileFailure(this.path, this.label, 'rewritten', () => {
      ftruncateSync(fd, 0);
      writeSync(fd, values.map((v) => `${JSON.stringify(v)}\n`).join(''), 0);
      fsyncSync(fd);
    });
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  private fd(): number {
    if (this.#fd === undefined) throw new SapphireError(this.label.code, `${this.label.what} ${this.path} is closed`);
    return this.#fd;
  }
}

/** The end of the last complete line, scanning the whole file (a torn line over 64 KiB). */
function lastCompleteEnd(fd: number, size: number): number {
  const all = readBytesFrom(fd, 0);
  return Math.min(size, all.lastIndexOf(0x0a) + 1);
}
