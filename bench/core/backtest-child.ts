/** Runs one full backtest in its own process and reports its peak memory (for the core bench). */
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { parseSettings } from '../../pipelines/settings.ts';

const dir = process.argv[2]!;
const series = await loadDataset({ dir });
const settings = parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(',') });
const result = runBacktest({ settings, series });
console.log(
  JSON.stringify({ bars: result.bars, trades: result.trades.length, maxRssMb: process.resourceUsage().maxRSS / 1024 }),
);
