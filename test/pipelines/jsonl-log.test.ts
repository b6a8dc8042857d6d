import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonLinesAppender, readJsonLines, START } from '../../pipelines/jsonl-log.ts';

const label = { what: 'test log', code: 'JOURNAL_INVALID' } as const;
const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'jsonl-')), 'log.jsonl');

describe('the one JSON-lines rule', () => {
  it('appends whole lines that read back in order with their line numbers', () => {
    const path = fresh();
    const log = new JsonLinesAppender(path, label);
    log.append({ n: 1 });
    log.appendAll([{ n: 2 }, { n: 3 }]);
    log.close();
    const read = readJsonLines(path, label);
    expect(read.lines).toEqual([
      { lineNo: 1, value: { n: 1 } },
      { lineNo: 2, value: { n: 2 } },
      { lineNo: 3, value: { n: 3 } },
    ]);
    expect(read.tailBytes).toBe(0);
  });

  it('a reader leaves an unterminated tail alone; opening for writing cuts it', () => {
    const path = fresh();
    writeFileSync(path, '{"n":1}\n{"n":2}\n{"n":');
    const read = readJsonLines(path, label);
    expect(read.lines.map((l) => l.value)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(read.tailBytes).toBe(5);
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":');
    const log = new JsonLinesAppender(path, label);
    log.append({ n: 3 });
    log.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it('cuts a torn tail longer than its read window, and a file that is only a torn line', () => {
    const path = fresh();
    writeFileSync(path, `{"n":1}\n{"pad":"${'x'.repeat(100_000)}`);
    expect(new JsonLinesAppender(path, label).cutTornTail()).toBe(0); // the constructor already cut it
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');
    const only = fresh();
    writeFileSync(only, '{"half');
    new JsonLinesAppender(only, label).close();
    expect(readFileSync(only, 'utf8')).toBe('');
  });

  it('a complete line that is not JSON is damage named by file and line, never skipped', () => {
    const path = fresh();
    writeFileSync(path, '{"n":1}\n\nnot json\n{"n":2}\n');
    expect(() => readJsonLines(path, { ...label, fix: '; remove the line' })).toThrow(
      `JOURNAL_INVALID: ${path}:3: test log line is not JSON; remove the line`,
    );
  });

  it('reads on from a cursor while another writer appends, numbering lines across chunks', () => {
    const path = fresh();
    const log = new JsonLinesAppender(path, label);
    log.appendAll([{ n: 1 }, { n: 2 }]);
    const first = readJsonLines(path, label, START);
    appendFileSync(path, '\n{"n":3}\n{"n":'); // a blank line, a line, and one still being written
    const second = readJsonLines(path, label, first);
    expect(second.lines).toEqual([{ lineNo: 4, value: { n: 3 } }]);
    appendFileSync(path, '4}\n');
    const third = readJsonLines(path, label, second);
    expect(third.lines).toEqual([{ lineNo: 5, value: { n: 4 } }]);
    log.close();
  });

  it('a missing file reads as empty; a path that cannot be opened names the log', () => {
    expect(readJsonLines(join(tmpdir(), 'no-such-dir-jsonl', 'x.jsonl'), label).lines).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'jsonl-dir-'));
    expect(() => new JsonLinesAppender(dir, label)).toThrow(`JOURNAL_INVALID: test log ${dir} cannot be opened`);
  });

  it('rewrite replaces the file (a compaction) and appends go on after it', () => {
    const path = fresh();
    const log = new JsonLinesAppender(path, label);
    log.appendAll([{ n: 2 }, { n: 1 }]);
    log.rewrite([{ n: 1 }, { n: 2 }]);
    log.append({ n: 3 });
    log.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });
});
