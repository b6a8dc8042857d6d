import type { ClockPort, Timers } from '../pipelines/ports.ts';

/**
 * The real clock and timers: the one place the code around the pipeline gets wall time and Node's
 * timers from (the interfaces are `ClockPort` and `Timers` in pipelines/ports.ts). `runtime/` sits
 * at the bottom beside the kernel, so every room may import it; the kernel and the stages may not
 * (layer rules), so the pipeline has no wall clock.
 */

/** the wall clock */
export const systemClock: ClockPort = { now: () => Date.now() };

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

/** waits `ms` on `timers` (default: the real ones, which keep the process alive meanwhile) */
export function sleep(ms: number, timers: Timers = realTimers): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}
