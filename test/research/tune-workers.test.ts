import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSettings, SEARCH_SPACE } from '../../pipelines/settings.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { TrialPool } from '../../research/worker-pool.ts';
import { runTuning } from '../../research/tune.ts';
import { JournalStorage } from '../../research/storage/journal.ts';
import { scoreTrial } from '../../research/objectives.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/core/', import.meta.url));
const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
const base = parseSettings({ SYMBOLS: 'BTCUSDT,ETHUSDT' });
const space = {
  MOMENTUM_THRESHOLD: SEARCH_SPACE.MOMENTUM_THRESHOLD!,
  ATR_STOP_MULTIPLE: SEARCH_SPACE.ATR_STOP_MULTIPLE!,
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sapphire-tune-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trial worker threads', () => {
  it('load the dataset themselves and score exactly like an in-thread backtest; a dead thread is replaced', async () => {
    const pool = await TrialPool.start(2, {
      source: { dir: FIXTURE_DIR },
      settings: { ...base },
      objective: 'sharpe',
      minTrades: 0,
    });
    try {
      const params = { MOMENTUM_THRESHOLD: 0.4, ATR_STOP_MULTIPLE: 2 };
      const window = { from: series[0]!.openTime[10]!, to: series[0]!.openTime[250]! };
      const got = await pool.run(params, window);
      const expected = scoreTrial(
        'sharpe',
        runBacktest({ settings: parseSettings({ ...base, ...params }), series, ...window }).metrics,
        0,
      );
      expect(got.value).toBe(expected.value);
      await expect(pool.crashOne()).rejects.toThrow(/trial worker died/);
      const again = await pool.run(params, window);
      expect(again.value).toBe(expected.value);
    } finally {
      await pool.close();
    }
  });
});

describe('walk-forward tuning', () => {
  it('tunes each fold on its train window with 2 worker threads and scores the winner out of sample', async () => {
    const storage = new JournalStorage(join(dir, 'wf.jsonl'));
    const report = await runTuning({
      base,
      series,
      source: { dir: FIXTURE_DIR },
      space,
      objective: 'sharpe',
      minTrades: 1,
      sampler: 'tpe',
      trials: 12,
      workers: 2,
      storage,
      study: 'wf',
      folds: 2,
      seed: 3,
      workerId: 'test',
    });
    expect(report.folds).toHaveLength(2);
    for (const f of report.folds) {
      expect(f.trials.map((t) => t.number)).toEqual([...Array(12).keys()]);
      expect(f.trials.every((t) => t.state === 'complete')).toBe(true);
      expect(f.best).not.toBeNull();
      expect(f.inSample.value).toBe(Math.max(...f.trials.map((t) => t.value!)));
      // the out-of-sample score is the winner's backtest on the test window only
      const oos = scoreTrial(
        'sharpe',
        runBacktest({ settings: parseSettings({ ...base, ...f.best!.params }), series, ...f.test }).metrics,
        1,
      );
      expect(f.outOfSample.value).toBe(oos.value);
      // the in-sample figure is the same backtest on the train window
      const is = scoreTrial(
        'sharpe',
        runBacktest({ settings: parseSettings({ ...base, ...f.best!.params }), series, ...f.train }).metrics,
        1,
      );
      expect(f.inSample.value).toBe(is.value);
    }
    expect(report.folds[0]!.study).toBe('wf.fold1of2');
    const lastBest = report.folds[1]!.best!;
    expect(report.chosen).toEqual((lastBest.attrs as { feasible: boolean }).feasible ? lastBest.params : null);
  });
});
