import { z } from 'zod';
import { int, oneOf, str } from '../pipelines/settings-kit.ts';

export const TuningSettings = z.object({
  TUNE_TRIALS: int(100, 1, 1_000_000, 'trials per tuning study'),
  TUNE_OBJECTIVE: oneOf(
    ['sharpe', 'sortino', 'calmar', 'profit', 'profit-drawdown'],
    'sharpe',
    'what tuning maximises',
  ),
  TUNE_SAMPLER: oneOf(['tpe', 'random'], 'tpe', 'tuning sampler'),
  TUNE_WORKERS: int(2, 1, 256, 'worker threads running trials in parallel'),
  TUNE_STORAGE: str('', 'study storage: a journal file path, or redis://… to share a study across hosts'),
  TUNE_MIN_TRADES: int(10, 0, 1_000_000, 'a trial with fewer trades is penalised, never "best"'),
  TUNE_FOLDS: int(3, 1, 50, 'walk-forward folds (train/test windows)'),
});
export type TuningSettings = z.infer<typeof TuningSettings>;
