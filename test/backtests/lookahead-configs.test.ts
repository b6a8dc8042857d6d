import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { seededCuts } from '../../backtests/lookahead-check.ts';
import { checkLookaheadParallel } from '../../backtests/lookahead-parallel.ts';
import { REPO } from '../kit/cli.ts';

/**
 * CI runs the look-ahead check over every shipped strategy configuration: momentum with each
 * sizing mode, each stop mode, agents off and on (embedded). Bounded for `npm test`: the first
 * 21 days of the shipped sample and 6 seeded cuts each (the full default, 20 cuts over the whole
 * sample, runs in test/cli/check-lookahead.test.ts for the default, atr and agent settings).
 */
const SIZING = ['fixed', 'kelly', 'atr'] as const;
const AGENTS = [false, true] as const;

describe('look-ahead check over every shipped strategy configuration', { timeout: 300_000 }, async () => {
  const all = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m') });
  const end = all[0]!.openTime[0]! + 21 * 86_400_000;
  const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), to: end });
  const cuts = seededCuts(series, 6, 11);

  for (const sizing of SIZING)
    for (const agents of AGENTS) {
      it(`SIZING_MODE=${sizing} AGENTS_ENABLED=${agents}`, async () => {
        const settings = parseSettings({
          SYMBOLS: series.map((c) => c.symbol).join(','),
          SIZING_MODE: sizing,
          AGENTS_ENABLED: agents,
        });
        const report = await checkLookaheadParallel({ settings, series, cuts, workers: 1 });
        expect(report.late).toBeNull();
        expect(report.outcomes.map((o) => o.difference)).toEqual(Array(cuts.length).fill(null));
        expect(report.outcomes.at(-1)!.events).toBeGreaterThan(1000);
      });
    }
});
