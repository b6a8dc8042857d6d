import { z } from 'zod';
import { num } from '../../pipelines/settings-kit.ts';
import { defineStrategy, normaliseStrength } from '../kit/contract.ts';

/**
 * Funding rate (perpetuals): when the last published funding rate shows a crowded side — above
 * +FUNDING_RATE_ENTRY, longs pay shorts — take the other side and collect the funding; exit when
 * the rate is back within ±FUNDING_RATE_EXIT. Reads only rates published at or before the bar
 * (the history the backtest loads with --funding / FUNDING_CSV; live: none yet, so no view).
 * Strength: the rate as a multiple of the entry level, halved.
 */
export default defineStrategy({
  name: 'funding-rate',
  settings: z.object({
    FUNDING_RATE_ENTRY: num(
      0.0005,
      0,
      0.05,
      'funding rate per 8 h (fraction) beyond which the crowded side is faded (0.0005 = 0.05 %)',
    ),
    FUNDING_RATE_EXIT: num(0.0001, 0, 0.05, 'a faded position closes once |funding rate| is back at or below this'),
  }),
  searchSpace: {
    FUNDING_RATE_ENTRY: { type: 'float', low: 0.0001, high: 0.003, log: true },
    FUNDING_RATE_EXIT: { type: 'float', low: 0, high: 0.0005 },
  },
  warmUpBars: () => 0,
  create(s, { fundingRate }) {
    const entry = s.FUNDING_RATE_ENTRY;
    return {
      onBar(f) {
        const rate = fundingRate(f.time);
        if (!Number.isFinite(rate)) return null;
        const strength = entry > 0 ? normaliseStrength(Math.abs(rate) / entry / 2) : 1;
        if (rate > entry) return { direction: -1, strength };
        if (rate < -entry) return { direction: 1, strength };
        return null;
      },
      shouldExit(f) {
        const rate = fundingRate(f.time);
        return Number.isFinite(rate) && Math.abs(rate) <= s.FUNDING_RATE_EXIT;
      },
    };
  },
});
