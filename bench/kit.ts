import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/data beside the repository, when this machine has it (CI does; a fresh laptop may not). */
export const SHARED_DATA = fileURLToPath(new URL('../../shared/data/', import.meta.url));
export const hasSharedData = (): boolean => existsSync(SHARED_DATA);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times after `warmup` discarded runs; returns each run's seconds. */
export function timeRuns(runs: number, warmup: number, fn: () => void): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    fn();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}
