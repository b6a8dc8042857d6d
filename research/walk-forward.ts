import { SapphireError } from '../pipelines/errors.ts';

export interface TimeWindow {
  /** inclusive openTime */
  from: number;
  /** exclusive openTime */
  to: number;
}

export interface Fold {
  index: number;
  train: TimeWindow;
  test: TimeWindow;
}

export interface FoldOptions {
  /** first bar's openTime (inclusive) */
  start: number;
  /** end of the data (exclusive: last openTime + bar interval) */
  end: number;
  folds: number;
  /** train window length as a multiple of the test window (default 3) */
  trainRatio?: number;
  /** bar interval: window edges fall on bar boundaries */
  intervalMs: number;
}

/**
 * Rolling walk-forward folds over [start, end): the span is cut into `folds + trainRatio` test-sized
 * steps; fold i trains on `trainRatio` steps and tests on the next one. Test windows are
 * consecutive and never overlap each other; each train window ends where its test window begins,
 * so no test bar is ever seen in training.
 */
export function makeFolds(o: FoldOptions): Fold[] {
  const ratio = o.trainRatio ?? 3;
  if (!Number.isInteger(o.folds) || o.folds < 1)
    throw new SapphireError('CLI_USAGE', `folds must be ≥ 1 (got ${o.folds})`);
  if (!(ratio > 0)) throw new SapphireError('CLI_USAGE', `train ratio must be > 0 (got ${ratio})`);
  const bars = Math.floor((o.end - o.start) / o.intervalMs);
  const testBars = Math.floor(bars / (o.folds + ratio));
  const trainBars = Math.floor(testBars * ratio);
  if (testBars < 2 || trainBars < 2) {
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `${bars} bars are too few for ${o.folds} walk-forward folds (need at least ${2 * (o.folds + ratio)})`,
    );
  }
  // the last test window ends at the last bar; leftover bars (rounding) go unused at the start
  const used = trainBars + o.folds * testBars;
  const origin = o.start + (bars - used) * o.intervalMs;
  const out: Fold[] = [];
  for (let i = 0; i < o.folds; i++) {
    const trainFrom = origin + i * testBars * o.intervalMs;
    const testFrom = trainFrom + trainBars * o.intervalMs;
    out.push({
      index: i,
      train: { from: trainFrom, to: testFrom },
      test: { from: testFrom, to: testFrom + testBars * o.intervalMs },
    });
  }
  return out;
}
