import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SapphireError } from '../../pipelines/errors.ts';

/** One line of the orchestrator's append-only journal. */
export type JournalEntry =
  | {
      readonly t: 'routed';
      readonly time: number;
      readonly id: string;
      readonly botId: string;
      readonly symbol: string;
      readonly side: 'BUY' | 'SELL';
      readonly type: string;
      readonly quantity: number;
      readonly reduceOnly: boolean;
    }
  | {
      readonly t: 'ack';
      readonly time: number;
      readonly id: string;
      readonly orderId: string;
      readonly status: string;
      /** signed quantity this order added to its bot's position (MARKET: the order quantity) */
      readonly exposureQty: number;
    }
  | { readonly t: 'failed'; readonly time: number; readonly id: string; readonly error: string }
  /** an in-doubt id looked up on the exchange: found there, or absent (never arrived: may be routed again) */
  | { readonly t: 'resolved'; readonly time: number; readonly id: string; readonly found: boolean }
  | { readonly t: 'decision'; readonly time: number; readonly botId: string; readonly decision: unknown }
  | { readonly t: 'halt'; readonly time: number; readonly reason: 'emergency_stop' | 'drawdown' }
  | { readonly t: 'resume'; readonly time: number }
  | { readonly t: 'peak'; readonly time: number; readonly equity: number };

const time = z.number().finite();
const id = z.string().min(1);
const EntrySchema = z.discriminatedUnion('t', [
  z.looseObject({
    t: z.literal('routed'),
    time,
    id,
    botId: z.string().min(1),
    symbol: z.string().min(1),
    side: z.enum(['BUY', 'SELL']),
    type: z.string().min(1),
    quantity: z.number().finite().nonnegative(),
    reduceOnly: z.boolean(),
  }),
  z.looseObject({
    t: z.literal('ack'),
    time,
    id,
    orderId: z.string(),
    status: z.string(),
    exposureQty: z.number().finite(),
  }),
  z.looseObject({ t: z.literal('failed'), time, id, error: z.string() }),
  z.looseObject({ t: z.literal('resolved'), time, id, found: z.boolean() }),
  z.looseObject({ t: z.literal('decision'), time, botId: z.string(), decision: z.unknown() }),
  z.looseObject({ t: z.literal('halt'), time, reason: z.enum(['emergency_stop', 'drawdown']) }),
  z.looseObject({ t: z.literal('resume'), time }),
  z.looseObject({ t: z.literal('peak'), time, equity: z.number().finite() }),
]);

/** Line `lineNo` of `path` as an entry, or an error naming the line and the problem. */
function entryOf(path: string, lineNo: number, line: string): JournalEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new SapphireError('JOURNAL_INVALID', `${path}:${lineNo}: orchestrator journal line is not JSON${FIX}`);
  }
  const checked = EntrySchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new SapphireError(
      'JOURNAL_INVALID',
      `${path}:${lineNo}: orchestrator journal entry is invalid (${field}${issue.message})${FIX}`,
    );
  }
  return checked.data as JournalEntry;
}

const FIX =
  '; a damaged routing record could route one client order id twice: fix or remove the line, or start with another --journal';

/**
 * Append-only JSONL, fsync'd per line: a routed id is on disk BEFORE the order goes to the
 * venue, so a crash after sending can never lead to a second send of that id. A crash can tear
 * the last line only: it is cut off on open (nothing after it was acknowledged). Damage anywhere
 * else stops the start with the line named, since skipping it could forget a routed id.
 * No path: in memory only.
 */
export class RoutingJournal {
  #fd: number | undefined;
  readonly #replayed: JournalEntry[] = [];

  constructor(path: string | undefined) {
    if (path === undefined || path === '') return;
    const opened = fileError(path, 'opened', () => {
      mkdirSync(dirname(path), { recursive: true });
      return existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    });
    const complete = opened.subarray(0, opened.lastIndexOf(0x0a) + 1);
    if (complete.length < opened.length) fileError(path, 'repaired', () => truncateSync(path, complete.length));
    const lines = complete.toString('utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() !== '') this.#replayed.push(entryOf(path, i + 1, line));
    });
    this.#fd = fileError(path, 'written', () => openSync(path, 'a'));
  }

  /** Entries found on disk when opened, oldest first. */
  replayed(): readonly JournalEntry[] {
    return this.#replayed;
  }

  append(e: JournalEntry): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, `${JSON.stringify(e)}\n`);
    fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** A file-system failure (a directory, no permission) as an error naming the journal. */
function fileError<T>(path: string, what: string, act: () => T): T {
  try {
    return act();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new SapphireError('JOURNAL_INVALID', `orchestrator journal ${path} cannot be ${what}: ${detail}`);
  }
}
