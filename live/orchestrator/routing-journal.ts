import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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

/**
 * Append-only JSONL, fsync'd per line: a routed id is on disk BEFORE the order goes to the
 * venue, so a crash after sending can never lead to a second send of that id. A torn last line
 * (crash mid-write) is skipped on replay. No path: in memory only.
 */
export class RoutingJournal {
  #fd: number | undefined;
  readonly #replayed: JournalEntry[] = [];

  constructor(path: string | undefined) {
    if (path === undefined || path === '') return;
    mkdirSync(dirname(path), { recursive: true });
    let torn = false;
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      torn = text.length > 0 && !text.endsWith('\n');
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          const e = JSON.parse(line) as JournalEntry;
          if (e && typeof e === 'object' && typeof e.t === 'string') this.#replayed.push(e);
        } catch {
          // a torn line from a crash mid-append: nothing after it was acknowledged
        }
      }
    }
    this.#fd = openSync(path, 'a');
    // end a torn last line so the next entry starts on a line of its own
    if (torn) writeSync(this.#fd, '\n');
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
