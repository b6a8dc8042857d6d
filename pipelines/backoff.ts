/**
 * The one back-off rule of the code around the pipeline (Aster client and streams, the service's
 * market source, Telegram, the agents' gateway). Pure: the delay it returns is waited on with the
 * injected `Timers` (pipelines/ports.ts), whose real implementations are in runtime/timers.ts.
 */

/**
 * Exponential back-off: `initialMs` × 2^attempt (attempt 0 is the first retry), capped at `maxMs`.
 * With `random` (a [0, 1) source) the delay is drawn from [½, 1] of that, so clients that failed
 * together do not retry together.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random?: () => number): number {
  const full = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return random === undefined ? full : full * (0.5 + 0.5 * random());
}
