import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireJournalLock } from '../../../live/journal/journal-lock.ts';

const journal = () => join(mkdtempSync(join(tmpdir(), 'sapphire-lock-')), 'journal.jsonl');

describe('the journal lock (one process per journal)', () => {
  it('holds the pid, refuses a second start in the same process, and is removed on release', () => {
    const path = journal();
    const lock = acquireJournalLock(path, () => {});
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => acquireJournalLock(path, () => {})).toThrow(`JOURNAL_PATH=${path} is in use by this process`);
    lock.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
    acquireJournalLock(path, () => {}).release();
  });

  it('refuses a lock of a running process and of another host, takes over a dead pid and our own pid from an earlier life', () => {
    const path = journal();
    // the parent of this test process is alive and is not us
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.ppid, host: hostname(), since: 'x' }));
    expect(() => acquireJournalLock(path, () => {})).toThrow(`is in use by process ${process.ppid}`);
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x' }));
    expect(() => acquireJournalLock(path, () => {})).toThrow('on host elsewhere');
    // a container restarted: same pid, same host, but this process never took it
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: 'x' }));
    const notices: string[] = [];
    const lock = acquireJournalLock(path, (l) => notices.push(l));
    expect(notices).toEqual([
      `sapphire: taking over the journal lock ${path}.lock of process ${process.pid} (since x), which is no longer running`,
    ]);
    lock.release();
    // a torn lock (crash between create and write) is taken over too
    writeFileSync(`${path}.lock`, '');
    acquireJournalLock(path, (l) => notices.push(l)).release();
    expect(notices.at(-1)).toContain('unreadable journal lock');
  });
});
