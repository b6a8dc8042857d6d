import { z } from 'zod';
import { positive } from '../../pipelines/settings-kit.ts';
import type { SearchSpace } from '../../pipelines/search-space.ts';

export const StopSettings = z.object({
  ATR_STOP_MULTIPLE: positive(1.5, 50, 'initial stop distance in ATRs from the entry price'),
  TRAILING_STOP_BUFFER: positive(
    0.01,
    0.5,
    'favourable move, as a fraction of entry, before the stop trails; it then trails this far behind the best price',
  ),
  TRAILING_STEP: positive(
    0.002,
    0.1,
    'smallest ratchet of the trailing stop, as a fraction of price (fewer order updates)',
  ),
});
export type StopSettings = z.infer<typeof StopSettings>;

export const stopSearchSpace: SearchSpace = {
  ATR_STOP_MULTIPLE: { type: 'float', low: 0.5, high: 6 },
  TRAILING_STOP_BUFFER: { type: 'float', low: 0.002, high: 0.05, log: true },
  TRAILING_STEP: { type: 'float', low: 0.0005, high: 0.01, log: true },
};
