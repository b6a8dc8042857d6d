import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { SapphireError } from '../../pipelines/errors.ts';

/**
 * One process per journal: `<journal>.lock`, created exclusively (O_EXCL) and holding the
 * owner's pid and host. Two services on one journal would interleave their inputs and each
 * send the other's orders again after a restart. A lock left by a process that is gone
 * (kill -9, a crash, a container restarted with the same pid) is taken over, with a message.
 */
export interface JournalLock {
  readonly path: string;
  release(): void;
}

interface Owner {
  pid: number;
  host: string;
  since: string;
}

/** lock files this process holds (a second start in the same process is refused too) */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): Owner | null {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as Owner) : null;
  } catch {
    return null;
  }
}

function createExclusive(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SapphireError(
      'JOURNAL_INVALID',
      `cannot create the journal lock ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    const owner: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

export function acquireJournalLock(journalPath: string, log: (line: string) => void = console.error): JournalLock {
  const path = `${journalPath}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(path)) {
      held.add(path);
      return {
        path,
        release() {
          if (!held.delete(path)) return;
          // only our own lock is removed (a takeover by another process is left alone)
          if (readOwner(path)?.pid === process.pid) unlinkSync(path);
        },
      };
    }
    const owner = readOwner(path);
    const inUse = (detail: string) =>
      new SapphireError(
        'JOURNAL_INVALID',
        `JOURNAL_PATH=${journalPath} is in use ${detail} (lock ${path}): stop that service first, or use another JOURNAL_PATH`,
      );
    if (held.has(path)) throw inUse('by this process');
    if (owner && owner.host !== hostname()) {
      // another machine's pid cannot be checked from here
      throw inUse(`by process ${owner.pid} on host ${owner.host}; remove the lock by hand if that host is gone`);
    }
    // our own pid in a lock we do not hold: left by an earlier life of this container
    if (owner && owner.pid !== process.pid && alive(owner.pid)) throw inUse(`by process ${owner.pid}`);
    // stale (or unreadable): move it aside atomically; a racing starter that moved it first wins
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = readOwner(aside);
    if (moved && (!owner || moved.pid !== owner.pid || moved.since !== owner.since)) {
      // we moved a fresh lock another starter had just written: give it back and stop
      renameSync(aside, path);
      throw inUse(`by process ${moved.pid}`);
    }
    unlinkSync(aside);
    log(
      owner
        ? `sapphire: taking over the journal lock ${path} of process ${owner.pid} (since ${owner.since}), which is no longer running`
        : `sapphire: taking over the unreadable journal lock ${path}`,
    );
  }
  throw new SapphireError(
    'JOURNAL_INVALID',
    `cannot take the journal lock ${path} (other starters keep racing for it)`,
  );
}
