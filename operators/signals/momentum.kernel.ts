import type { Direction } from '../../pipelines/model/index.ts';

/** Long above +threshold, short below −threshold, else flat. `thresholdPct` is in percent. */
export function momentumDirection(lookbackReturn: number, thresholdPct: number): Direction {
  const t = thresholdPct / 100;
  if (lookbackReturn > t) return 1;
  if (lookbackReturn < -t) return -1;
  return 0;
}
