/**
 * The one timer abstraction and the one back-off rule of the code outside the pipeline (live
 * adapters, agents' gateway, Telegram): tests drive `Timers`, production passes one of the two
 * real ones. The pipeline itself has no timers (lint); this file is the single exception, because
 * every room needs the same real timers and they cannot live in a room others may not import.
 */

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, as they are: a pending one keeps the process alive (a retry mid-backtest must). */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Housekeeping timers (keep-alives, reconnects, watchdogs) that never keep the process alive. */
export const backgroundTimers: Timers = {
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms);
    h.unref?.();
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Exponential back-off: `initialMs` × 2^attempt (attempt 0 is the first retry), capped at `maxMs`.
 * With `random` (a [0, 1) source) the delay is drawn from [½, 1] of that, so clients that failed
 * together do not retry together.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random?: () => number): number {
  const full = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return random === undefined ? full : full * (0.5 + 0.5 * random());
}
