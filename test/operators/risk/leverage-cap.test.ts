import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../backtests/data/index.ts';
import { runBacktest } from '../../../backtests/run-backtest.ts';
import type { BarColumns, PipelineEvent } from '../../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../../pipelines/settings.ts';

/**
 * Finding 1 of issue 12: entries decided on the same bar were each checked against the FILLED
 * exposure only, so three of them together reached 6× equity against a cap of 2×. The books are
 * rebuilt here from the fills, funding and bar closes alone (cash accounting, nothing taken from
 * the portfolio's own figures), and the cap and the margin are checked after every bar.
 */

const SAMPLE = 'data/sample/perp-5m';
// ../shared/data beside the repository (or beside the worktrees' folder, for a git worktree)
const BIG = ['../../../../shared/data/perp-5m-2025', '../../../../../shared/data/perp-5m-2025']
  .map((p) => fileURLToPath(new URL(p, import.meta.url)))
  .find((p) => existsSync(p));

interface Books {
  maxLeverage: number;
  maxMarginUsage: number;
  worst: string;
  entries: number;
}

function rebuildBooks(events: readonly PipelineEvent[], s: Settings): Books {
  let cash = s.INITIAL_BALANCE;
  const qty = new Map<string, number>();
  const mark = new Map<string, number>();
  let maxLeverage = 0;
  let maxMarginUsage = 0;
  let worst = '';
  let entries = 0;
  for (const e of events) {
    if (e.kind === 'fill') {
      const signed = e.side === 'BUY' ? e.quantity : -e.quantity;
      cash -= signed * e.price + e.fee;
      qty.set(e.symbol, (qty.get(e.symbol) ?? 0) + signed);
      if (e.reason === 'entry') entries++;
    } else if (e.kind === 'funding') {
      cash -= e.amount;
    } else if (e.kind === 'bar') {
      mark.set(e.symbol, e.close);
      let equity = cash;
      let gross = 0;
      for (const [symbol, q] of qty) {
        const m = mark.get(symbol) ?? 0;
        equity += q * m;
        gross += Math.abs(q) * m;
      }
      const leverage = gross / equity;
      const margin = gross / s.LEVERAGE / equity;
      if (leverage > maxLeverage) {
        maxLeverage = leverage;
        worst = new Date(e.time).toISOString();
      }
      maxMarginUsage = Math.max(maxMarginUsage, margin);
    }
  }
  return { maxLeverage, maxMarginUsage, worst, entries };
}

function run(series: BarColumns[], overrides: Record<string, unknown>): { books: Books; s: Settings } {
  const s = parseSettings({
    SYMBOLS: series.map((c) => c.symbol).join(','),
    BAR_INTERVAL: '5m',
    SIZING_MODE: 'atr',
    ...overrides,
  });
  const result = runBacktest({ settings: s, series, keepEvents: true });
  return { books: rebuildBooks(result.events!, s), s };
}

// Exposure is capped when an entry is decided, at the decision's close. Until the fill (next
// bar's open) and while a position loses afterwards, gross/equity drifts (a long 2× levered that
// falls 1 % is at 2.02×); positions here are stopped out within about one ATR, so the drift stays
// within 3 % (measured: 2.02× at most). 6× (the finding) is far outside it.
const DRIFT = 0.03;

async function checkDataset(dir: string): Promise<void> {
  const series = await loadDataset({ dir });
  // the default cap (2×) under the exchange leverage (5×): the leverage cap binds
  const capped = run(series, {});
  expect(capped.books.entries).toBeGreaterThan(50);
  expect(capped.books.maxLeverage, `at ${capped.books.worst}`).toBeLessThanOrEqual(
    capped.s.MAX_PORTFOLIO_LEVERAGE * (1 + DRIFT),
  );
  expect(capped.books.maxMarginUsage).toBeLessThanOrEqual(1);
  // a cap above the exchange leverage: only the margin check stops entries at equity
  const margin = run(series, { MAX_PORTFOLIO_LEVERAGE: 10, LEVERAGE: 3 });
  expect(margin.books.entries).toBeGreaterThan(50);
  expect(margin.books.maxMarginUsage, `at ${margin.books.worst}`).toBeLessThanOrEqual(1 + DRIFT);
  // and it does bind: more than the 3× a single margin account allows is never reached
  expect(margin.books.maxLeverage).toBeLessThanOrEqual(3 * (1 + DRIFT));
}

describe('the leverage cap and the margin hold for entries decided on the same bar (issue 12, finding 1)', () => {
  it('on the shipped sample with SIZING_MODE=atr', async () => {
    await checkDataset(SAMPLE);
  }, 60_000);

  it.skipIf(BIG === undefined)(
    'on perp-5m-2025 with SIZING_MODE=atr',
    async () => {
      await checkDataset(BIG!);
    },
    120_000,
  );
});
