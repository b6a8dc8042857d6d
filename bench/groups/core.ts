import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../../backtests/data/index.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { runLoopStrategy } from '../core/loop-strategy.ts';
import { hasSharedData, median, SHARED_DATA, timeRuns } from '../kit.ts';
import type { Figures } from '../run.ts';

/**
 * The pipeline core: full backtest throughput on perp-5m-2025 BTC+ETH+SOL (359k real bars), the
 * same strategy as a hand-written loop, their ratio, CSV loading and the backtest's peak memory.
 */
export async function benchCore(): Promise<Figures> {
  const out: Figures = {};
  const dir = hasSharedData()
    ? `${SHARED_DATA}perp-5m-2025`
    : fileURLToPath(new URL('../../data/sample/perp-5m', import.meta.url));
  const note = hasSharedData() ? 'perp-5m-2025, 3 symbols' : 'shipped sample (../shared/data absent)';
  const series = await loadDataset({ dir });
  const settings = parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(',') });
  const bars = series.reduce((n, c) => n + c.length, 0);
  let trades = 0;
  const pipeline = timeRuns(5, 1, () => {
    trades = runBacktest({ settings, series }).trades.length;
  });
  let loopTrades = 0;
  const loop = timeRuns(5, 1, () => {
    loopTrades = runLoopStrategy(settings, series, filtersFor(settings.SYMBOLS)).trades.length;
  });
  const pipelineRate = bars / median(pipeline);
  const loopRate = bars / median(loop);
  out.pipeline_bars_per_s = {
    value: pipelineRate,
    unit: 'bars/s',
    note: `${note}, ${bars} bars, ${trades} trades, median of 5`,
  };
  out.loop_bars_per_s = { value: loopRate, unit: 'bars/s', note: `same strategy as a for-loop, ${loopTrades} trades` };
  out.pipeline_to_loop_ratio = { value: pipelineRate / loopRate, unit: 'ratio' };

  // four shipped strategies at once on the same bars: the strategies stage, its indicators and netting
  const multi = parseSettings({
    SYMBOLS: settings.SYMBOLS.join(','),
    STRATEGIES: 'momentum,mean-reversion,breakout,trend',
  });
  let multiTrades = 0;
  const multiRuns = timeRuns(5, 1, () => {
    multiTrades = runBacktest({ settings: multi, series }).trades.length;
  });
  out.multi_strategy_bars_per_s = {
    value: bars / median(multiRuns),
    unit: 'bars/s',
    note: `${note}, momentum + mean-reversion + breakout + trend, ${multiTrades} trades, median of 5 (target ≥ 400,000)`,
  };

  const loadBench = fileURLToPath(new URL('./load.ts', import.meta.url));
  if (existsSync(loadBench)) {
    const { benchLoad } = (await import(loadBench)) as { benchLoad: () => Promise<Figures> };
    Object.assign(out, await benchLoad());
  }

  const child = fileURLToPath(new URL('../core/backtest-child.ts', import.meta.url));
  const report = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', child, dir], { encoding: 'utf8', maxBuffer: 1 << 20 }),
  ) as { maxRssMb: number; bars: number };
  out.backtest_peak_rss_mb = {
    value: report.maxRssMb,
    unit: 'MB',
    note: `separate process, load + backtest of ${report.bars} bars`,
  };
  return out;
}
