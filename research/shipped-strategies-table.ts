/**
 * The README's table of shipped strategies: each one with its default settings on
 * ../shared/data/perp-5m-2025, reported in-sample (to 2025-10-01) and out-of-sample (after), with
 * the shipped real funding history. Nothing is fitted on either window (untuned defaults).
 *   npx tsx research/shipped-strategies-table.ts ["momentum|breakout|momentum,trend"]
 */
import { loadDataset } from '../backtests/data/index.ts';
import { loadFundingFile } from '../backtests/data/funding-files.ts';
import { runBacktest } from '../backtests/run-backtest.ts';
import { parseSettings } from '../pipelines/settings.ts';
import { shippedNames } from '../strategies/registry.ts';

const series = await loadDataset({ dir: '../shared/data/perp-5m-2025' });
const funding = loadFundingFile('data/sample/funding');
const split = Date.UTC(2025, 9, 1);
const symbols = series.map((c) => c.symbol).join(',');
const rows = process.argv[2]?.split('|') ?? shippedNames();
console.log(
  '| strategy | IS Sharpe | IS trades | IS return | OOS Sharpe | OOS trades | OOS return |\n|---|---|---|---|---|---|---|',
);
for (const name of rows) {
  const settings = parseSettings({ SYMBOLS: symbols, STRATEGIES: name });
  const is = runBacktest({ settings, series, to: split, fundingRates: funding });
  const oos = runBacktest({ settings, series, from: split, fundingRates: funding });
  const cells = (m: typeof is.metrics) => `${m.sharpe.toFixed(2)} | ${m.trades} | ${m.totalReturnPct.toFixed(2)} %`;
  console.log(`| ${name} | ${cells(is.metrics)} | ${cells(oos.metrics)} |`);
}
