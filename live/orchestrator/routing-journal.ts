import { z } from 'zod';
import { SapphireError } from '../../pipelines/errors.ts';
import { JsonLinesAppender, readJsonLines } from '../../pipelines/jsonl-log.ts';

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
function entryOf(path: string, lineNo: number, parsed: unknown): JournalEntry {
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
const LABEL = { what: 'orchestrator journal', code: 'JOURNAL_INVALID', fix: FIX } as const;

/**
 * Append-only JSONL, fsync'd per line: a routed id is on disk BEFORE the order goes to the
 * venue, so a crash after sending can never lead to a second send of that id. A crash can tear
 * the last line only: it is cut off on open (nothing after it was acknowledged). Damage anywhere
 * else stops the start with the line named, since skipping it could forget a routed id.
 * No path: in memory only.
 */
export class RoutingJournal {
  #log: JsonLinesAppender | undefined;
  readonly #replayed: JournalEntry[] = [];

  constructor(path: string | undefined) {
    if (path === undefined || path === '') return;
    // opening for appending cuts a torn last line (pipelines/jsonl-log.ts), then the rest replays
    this.#log = new JsonLinesAppender(path, LABEL);
    try {
      for (const line of readJsonLines(path, LABEL).lines) this.#replayed.push(entryOf(path, line.lineNo, line.value));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Entries found on disk when opened, oldest first. */
  replayed(): readonly JournalEntry[] {
    return this.#replayed;
  }

  append(e: JournalEntry): void {
    this.#log?.append(e);
  }

  close(): void {
    this.#log?.close();
    this.#log = undefined;
  }
}
