import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../backtests/data/index.ts';
import { DEFAULT_RUN, RunBlock, runRecordedBacktest } from '../../backtests/recorded-run.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { REPO } from '../kit/cli.ts';

const settings = parseSettings({ SYMBOLS: 'BTCUSDT' });
const series = async () =>
  (await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT'] })).slice(0, 1);

describe('runRecordedBacktest: the one place a run block becomes a backtest (sapphire backtest and verify)', () => {
  it('honours every option of the run block', async () => {
    const data = await series();
    const asked: string[] = [];
    const inputPath = (name: 'funding' | 'filters') => {
      asked.push(name);
      return undefined;
    };
    const open = await runRecordedBacktest({ settings, series: data, run: DEFAULT_RUN, inputPath });
    const closed = await runRecordedBacktest({
      settings,
      series: data,
      run: { ...DEFAULT_RUN, closeAtEnd: true, seeds: 2 },
      inputPath,
    });
    // every input file of the block is asked for where to read it (the CLI: as given; verify: bundled)
    expect(asked).toEqual(['funding', 'filters', 'funding', 'filters']);
    expect(open.seeds).toBeUndefined();
    expect(closed.seeds?.runs.map((r) => r.seed)).toEqual([settings.SEED, settings.SEED + 1]);
    // closeAtEnd: what the default run leaves open is closed at the end
    expect(closed.result.openTrades).toEqual([]);
    if (open.result.openTrades.length > 0)
      expect(closed.result.trades.length).toBeGreaterThan(open.result.trades.length);
  });

  it('the run block schema is the one result.json and bundles record (a new option cannot be missed)', () => {
    expect(Object.keys(RunBlock.shape).sort()).toEqual(Object.keys(DEFAULT_RUN).sort());
    expect(RunBlock.parse(DEFAULT_RUN)).toEqual(DEFAULT_RUN);
  });
});
