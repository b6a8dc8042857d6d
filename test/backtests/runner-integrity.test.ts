import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BarColumns, FeatureBar, FundingPayment } from '../../pipelines/model/index.ts';
import { runBacktest, type BacktestResult } from '../../backtests/run-backtest.ts';
import { loadDataset, loadDatasetReport, sliceColumns } from '../../backtests/data/index.ts';
import { loadFiltersFile } from '../../pipelines/instruments.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { REPO } from '../kit/cli.ts';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { renderBacktestHtml } from '../../dashboard/reports/backtest-html.ts';

/**
 * Finding 6 (end of data), 7 (gaps), 9 (warm-up) and 13 (unknown symbols, tape misses) on the
 * shipped real sample (data/sample/perp-5m) and on cuts of it; nothing here is a made-up price.
 */
const SAMPLE = join(REPO, 'data/sample/perp-5m');
const FIVE_MIN = 300_000;
const DAY = 86_400_000;
const from = Date.parse('2025-12-01T00:00:00Z');
const to = Date.parse('2025-12-08T00:00:00Z');
const settings = activeSettings({ SYMBOLS: 'BTCUSDT,ETHUSDT,SOLUSDT' });

let sample: BarColumns[];
let week: BacktestResult;
beforeAll(async () => {
  sample = await loadDataset({ dir: SAMPLE });
  week = runBacktest({ settings, series: sample, from, to });
});

/** the trade of `symbol` that lasts longest in the week: a position to cut the data inside */
function longTrade(symbol: string) {
  const t = week.trades
    .filter((x) => x.symbol === symbol)
    .sort((a, b) => b.time - b.openedAt - (a.time - a.openedAt))[0]!;
  expect(t.time - t.openedAt).toBeGreaterThanOrEqual(3 * FIVE_MIN);
  return t;
}

function closeAt(c: BarColumns, openTime: number): { close: number; low: number; high: number } {
  const i = c.openTime.indexOf(openTime);
  return { close: c.close[i]!, low: c.low[i]!, high: c.high[i]! };
}

/** A user's leverage-brackets file: the shipped BTCUSDT table under another symbol's name. */
function bracketsFileAs(symbol: string): string {
  const shipped = JSON.parse(readFileSync(join(REPO, 'pipelines/margin/leverage-brackets.json'), 'utf8')) as {
    symbol: string;
  }[];
  const file = join(mkdtempSync(join(tmpdir(), 'sapphire-brackets-')), 'leverageBracket.json');
  writeFileSync(file, JSON.stringify([{ ...shipped.find((x) => x.symbol === 'BTCUSDT'), symbol }]));
  return file;
}

describe('end of data (finding 6)', () => {
  it('a position open at the end is an open trade marked at the last close, and the books add up', () => {
    const t = longTrade('BTCUSDT');
    // the data ends two bars after the entry bar: the trade is still open then
    const end = t.openedAt + 2 * FIVE_MIN;
    const r = runBacktest({ settings, series: sample, from, to: end });
    expect(r.trades.some((x) => x.symbol === 'BTCUSDT' && x.openedAt === t.openedAt)).toBe(false);
    const open = r.openTrades.find((x) => x.symbol === 'BTCUSDT')!;
    expect(open).toBeDefined();
    const btc = sample.find((c) => c.symbol === 'BTCUSDT')!;
    const last = closeAt(btc, end - FIVE_MIN);
    expect(open.side).toBe(t.side);
    expect(open.entryPrice).toBe(t.entryPrice);
    expect(open.quantity).toBe(t.quantity);
    expect(open.markPrice).toBe(last.close);
    expect(open.markedAt).toBe(end);
    const sign = t.side === 'LONG' ? 1 : -1;
    expect(open.unrealizedPnl).toBeCloseTo((last.close - t.entryPrice) * t.quantity * sign, 9);
    // equity = initial + closed trades + open trades (every fee and funding payment belongs to one)
    const closed = r.trades.reduce((s, x) => s + x.netPnl, 0);
    const stillOpen = r.openTrades.reduce((s, x) => s + x.netPnl, 0);
    expect(r.final!.equity).toBeCloseTo(settings.INITIAL_BALANCE + closed + stillOpen, 6);
    // the HTML report lists them too
    const html = renderBacktestHtml(r, { dataDir: SAMPLE, settings });
    expect(html).toContain('<section id="data-notes">');
    expect(html).toContain(`Open at the end (${r.openTrades.length})`);
  });

  it('--close-at-end closes them at the last close as taker fills (slippage, fee, exit reason end-of-data)', () => {
    const t = longTrade('BTCUSDT');
    const end = t.openedAt + 2 * FIVE_MIN;
    const marked = runBacktest({ settings, series: sample, from, to: end });
    const closedRun = runBacktest({ settings, series: sample, from, to: end, closeAtEnd: true });
    expect(closedRun.openTrades).toEqual([]);
    expect(closedRun.final!.positions).toEqual([]);
    const btc = sample.find((c) => c.symbol === 'BTCUSDT')!;
    const last = closeAt(btc, end - FIVE_MIN);
    for (const open of marked.openTrades) {
      const x = closedRun.trades.find((y) => y.symbol === open.symbol && y.openedAt === open.openedAt)!;
      expect(x.exitReason).toBe('end-of-data');
      const bps = settings.SLIPPAGE_BPS / 10_000;
      const bar = closeAt(
        sample.find((c) => c.symbol === open.symbol)!,
        end - FIVE_MIN,
      );
      const raw = open.side === 'LONG' ? bar.close * (1 - bps) : bar.close * (1 + bps);
      const exit = Math.min(bar.high, Math.max(bar.low, raw));
      expect(x.exitPrice).toBeCloseTo(exit, 9);
      const exitFee = open.quantity * exit * settings.TAKER_FEE;
      const slip = Math.abs(open.markPrice - exit) * open.quantity;
      expect(x.netPnl).toBeCloseTo(open.netPnl - exitFee - slip, 6);
    }
    expect(closedRun.trades.some((x) => x.symbol === 'BTCUSDT' && x.exitReason === 'end-of-data')).toBe(true);
    expect(last.close).toBeGreaterThan(0);
    expect(closedRun.metrics.trades).toBe(marked.metrics.trades + marked.openTrades.length);
  });

  it('a symbol whose data ends early is closed at its last bar, with a warning', () => {
    const t = longTrade('ETHUSDT');
    const ethEnd = t.openedAt + 2 * FIVE_MIN;
    const series = sample.map((c) => (c.symbol === 'ETHUSDT' ? sliceColumns(c, undefined, ethEnd) : c));
    const r = runBacktest({ settings, series, from, to });
    const x = r.trades.find((y) => y.symbol === 'ETHUSDT' && y.openedAt === t.openedAt)!;
    expect(x.exitReason).toBe('end-of-data');
    expect(x.time).toBe(ethEnd);
    expect(r.openTrades.some((o) => o.symbol === 'ETHUSDT')).toBe(false);
    expect(r.warnings.some((w) => w.startsWith('ETHUSDT data ends at 2025-'))).toBe(true);
  });
});

/** the sample's BTCUSDT with `missing` bars cut out after row `at`, as a CSV file (line = row + 2) */
function holedCsv(dir: string, at: number, missing: number): string {
  const lines = gunzipSync(readFileSync(join(SAMPLE, 'BTCUSDT.csv.gz')))
    .toString('utf8')
    .trim()
    .split('\n');
  const rows = lines.slice(1);
  const kept = [...rows.slice(0, at), ...rows.slice(at + missing)];
  const file = join(dir, 'BTCUSDT.csv');
  writeFileSync(file, [lines[0], ...kept].join('\n') + '\n');
  return file;
}

describe('gaps (finding 7)', () => {
  it('a hole longer than MAX_GAP_BARS (one day of bars) is refused naming file, line and times', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-gap-'));
    const file = holedCsv(dir, 10_000, 2 * 288);
    const err = await loadDataset({ dir }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    // row 10000 is on line 10002: the first bar after the hole
    expect((err as Error).message).toContain(`${file}:10002: BTCUSDT has no bars between`);
    expect((err as Error).message).toContain('(576 bars missing, 2.0 days)');
    expect((err as Error).message).toContain('MAX_GAP_BARS=288');
    // a gap within the limit is reported, not refused
    const short = mkdtempSync(join(tmpdir(), 'sapphire-gap-'));
    holedCsv(short, 10_000, 12);
    const ok = await loadDatasetReport({ dir: short });
    expect(ok.gaps.map((g) => g.missingBars)).toEqual([12]);
  });

  it('after an allowed hole the indicators start again: no lookback across it; CAGR counts data time only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-gap-'));
    holedCsv(dir, 10_000, 2 * 288);
    const { series, gaps } = await loadDatasetReport({ dir, allowGaps: true });
    expect(gaps).toHaveLength(1);
    const c = series[0]!;
    const s = activeSettings({ SYMBOLS: 'BTCUSDT' });
    const r = runBacktest({ settings: s, series, keepEvents: true, allowGaps: true });
    expect(r.gaps).toHaveLength(1);
    expect(r.warnings.some((w) => w.includes('indicators warm up again'))).toBe(true);
    const features = r.events!.filter((e): e is FeatureBar => e.kind === 'features');
    const after = gaps[0]!.firstAfter;
    const firstAfter = features.find((f) => f.bar.openTime >= after)!;
    // warm-up is 289 bars (one day of bars + 1): the 289th bar after the hole is the first warm one
    const j = 10_000 + 288;
    expect(firstAfter.bar.openTime).toBe(c.openTime[j]);
    expect(firstAfter.lookbackReturn).toBeCloseTo(c.close[j]! / c.close[j - s.MOMENTUM_LOOKBACK_BARS]! - 1, 12);
    // CAGR over the time the data covers (rows × interval), not over the hole
    const rows = r.equity.length;
    const final = r.equity.at(-1)!.equity;
    const years = (rows * FIVE_MIN) / (365 * DAY);
    expect(r.metrics.cagrPct).toBeCloseTo((Math.pow(final / s.INITIAL_BALANCE, 1 / years) - 1) * 100, 9);
    expect(r.metrics.maxDrawdownDurationMs).toBeLessThanOrEqual(rows * FIVE_MIN);
    // without the permission, runBacktest refuses too
    expect(() => runBacktest({ settings: s, series })).toThrow(/BTCUSDT has no bars between/);
  });

  const native = [join(REPO, '../shared/data/binance-native'), join(REPO, '../../shared/data/binance-native')].find(
    existsSync,
  );
  it.skipIf(native === undefined)('the binance-native AVAX folder is refused without --allow-gaps', async () => {
    const err = await loadDataset({ dir: native! }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain(
      'AVAXUSDT-1m-2026-07.csv:2: AVAXUSDT has no bars between 2023-02-28T23:59:00.000Z',
    );
    const { series } = await loadDatasetReport({ dir: native!, allowGaps: true });
    const s = activeSettings({
      SYMBOLS: 'AVAXUSDT',
      BAR_INTERVAL: '1m',
      LEVERAGE_BRACKETS_FILE: bracketsFileAs('AVAXUSDT'),
    });
    const r = runBacktest({ settings: s, series, allowGaps: true, keepEvents: true });
    // no lookback across the 3.4-year hole: the first features after it come one day of bars later
    const after = Date.parse('2026-07-01T00:00:00Z');
    const first = r.events!.find((e): e is FeatureBar => e.kind === 'features' && e.bar.openTime >= after)!;
    expect(first.bar.openTime).toBe(after + 1440 * 60_000);
    const c = series[0]!;
    const j = c.openTime.indexOf(first.bar.openTime);
    expect(first.lookbackReturn).toBeCloseTo(c.close[j]! / c.close[j - s.MOMENTUM_LOOKBACK_BARS]! - 1, 12);
    // 59 days of data: no drawdown can last longer, and CAGR is annualised over them
    expect(r.metrics.maxDrawdownDurationMs).toBeLessThan(60 * DAY);
    expect(r.equity.length * 60_000).toBeLessThan(60 * DAY);
  });
});

describe('warm-up before --from (finding 9)', () => {
  it('bars before the window warm the indicators up: features from the window’s first bar', () => {
    const r = runBacktest({ settings, series: sample, from, to: from + DAY, keepEvents: true });
    const first = new Map<string, FeatureBar>();
    for (const e of r.events!) if (e.kind === 'features' && !first.has(e.symbol)) first.set(e.symbol, e);
    for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) expect(first.get(symbol)!.bar.openTime).toBe(from);
    // 289 bars of warm-up: 288 before the window for each symbol
    expect(r.warmUpBars).toBe(3 * 288);
    expect(r.start).toBe(from);
    expect(r.bars).toBe(3 * 288);
    expect(r.equity[0]!.time).toBe(from + FIVE_MIN);
    expect(r.equity).toHaveLength(288);
    // the lookback return at the first window bar is the one over the real previous bars
    const btc = sample.find((c) => c.symbol === 'BTCUSDT')!;
    const i = btc.openTime.indexOf(from);
    expect(first.get('BTCUSDT')!.lookbackReturn).toBeCloseTo(btc.close[i]! / btc.close[i - 48]! - 1, 12);
  });

  it('data shorter than the warm-up is an error naming both lengths (or a warning)', () => {
    const short = sample.map((c) => sliceColumns(c, undefined, c.openTime[200]));
    expect(() => runBacktest({ settings, series: short, shortData: 'error' })).toThrow(
      /BTCUSDT has 200 bars but the indicators need 289 bars of warm-up/,
    );
    const warned = runBacktest({ settings, series: short });
    expect(warned.trades).toHaveLength(0);
    expect(warned.warnings.some((w) => w.includes('has 200 bars'))).toBe(true);
  });
});

describe('unknown symbols and tape misses (finding 13)', () => {
  const renamed = (c: BarColumns, symbol: string): BarColumns => ({ ...c, symbol });

  it('a symbol without exchange filters is an error naming it, unless a filters file has it', () => {
    const foo = [renamed(sliceColumns(sample[0]!, from, to), 'FOOUSDT')];
    const s = activeSettings({ SYMBOLS: 'FOOUSDT' });
    expect(() => runBacktest({ settings: s, series: foo })).toThrow(/no exchange filters for FOOUSDT/);
    // the user's exchangeInfo (here: the bundled BTCUSDT entry under the new name)
    const info = JSON.parse(readFileSync(join(REPO, 'pipelines/aster-exchange-info-2026-01-12.json'), 'utf8')) as {
      symbols: { symbol: string }[];
    };
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-filters-'));
    const file = join(dir, 'exchangeInfo.json');
    writeFileSync(
      file,
      JSON.stringify({ symbols: [{ ...info.symbols.find((x) => x.symbol === 'BTCUSDT'), symbol: 'FOOUSDT' }] }),
    );
    const filters = loadFiltersFile(file);
    // … and its leverage brackets (a symbol the shipped table lacks needs them for margin)
    const withBrackets = activeSettings({ SYMBOLS: 'FOOUSDT', LEVERAGE_BRACKETS_FILE: bracketsFileAs('FOOUSDT') });
    const r = runBacktest({ settings: withBrackets, series: foo, filters });
    expect(r.trades.length).toBeGreaterThan(0);
    const step = filters.get('FOOUSDT')!.stepSize;
    for (const t of r.trades) expect(Math.abs(t.quantity / step - Math.round(t.quantity / step))).toBeLessThan(1e-6);
  });

  it('a signal the agent tape has no reply for stops the run, unless tapeMiss is skip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-tape-'));
    const tape = join(dir, 'empty.jsonl');
    writeFileSync(tape, '');
    const s = activeSettings({
      AGENTS_ENABLED: true,
      FINGPT_ENDPOINT: 'http://127.0.0.1:9',
      AGENT_TAPE: tape,
      AGENT_TAPE_MODE: 'replay',
      SYMBOLS: 'BTCUSDT',
    });
    const series = [sliceColumns(sample[0]!, from, to)];
    expect(() => runBacktest({ settings: s, series, agents: backtestAgentStage(s) })).toThrow(
      /AGENT_TAPE_MISS: agent fingpt has no tape reply for BTCUSDT at the bar closing 2025-12-0\d/,
    );
    const skipped = runBacktest({ settings: s, series, agents: backtestAgentStage(s), tapeMiss: 'skip' });
    expect(skipped.warnings.some((w) => /signals had no reply on the agent tape/.test(w))).toBe(true);
  });
});

describe('funding through the venue (finding 8)', () => {
  it('a history stamped 1 ms after the funding time applies at the first bar opening at or after it', () => {
    // declared constant rate 0.0001 (not a market rate): only the matching is under test
    const s = activeSettings({ SYMBOLS: 'BTCUSDT,ETHUSDT,SOLUSDT', FUNDING_RATE: 0 });
    const times: number[] = [];
    for (let t = from; t <= to; t += 8 * 3_600_000) times.push(t + 1);
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    const rows = symbols.flatMap((symbol) => times.map((t) => ({ symbol, fundingTime: t, rate: 0.0001 })));
    const r = runBacktest({ settings: s, series: sample, from, to, fundingRates: rows, keepEvents: true });
    // replay the event stream: the position entering each bar, and the payments made at it
    const held = new Map<string, number>();
    const entering = new Map<string, number>();
    const lastOpen = new Map<string, number>();
    const paid: FundingPayment[] = [];
    let expected = 0;
    const opens = new Map(sample.map((c) => [c.symbol, c]));
    for (const e of r.events!) {
      if (e.kind === 'fill')
        held.set(e.symbol, (held.get(e.symbol) ?? 0) + (e.side === 'BUY' ? e.quantity : -e.quantity));
      if (e.kind === 'funding') paid.push(e);
      if (e.kind !== 'bar') continue;
      const before = lastOpen.get(e.symbol);
      const due = times.filter((t) => before !== undefined && t > before && t <= e.openTime);
      const position = entering.get(e.symbol) ?? 0;
      if (Math.abs(position) > 1e-12) {
        expected += due.length;
        const mine = paid.filter((p) => p.symbol === e.symbol);
        for (const t of due) {
          const p = mine.find((x) => x.time === t)!;
          expect(p, `${e.symbol} funding ${new Date(t).toISOString()}`).toBeDefined();
          expect(p.positionQty).toBeCloseTo(position, 12);
          expect(p.markPrice).toBe(e.open);
          expect(p.amount).toBeCloseTo(0.0001 * position * e.open, 12);
          // the bar it applies at is the first opening at or after the funding time
          expect(e.openTime).toBeGreaterThanOrEqual(t);
          expect(opens.get(e.symbol)!.openTime.indexOf(e.openTime - FIVE_MIN)).toBeGreaterThanOrEqual(0);
          expect(e.openTime - FIVE_MIN).toBeLessThan(t);
        }
      }
      paid.length = 0;
      lastOpen.set(e.symbol, e.openTime);
      entering.set(e.symbol, held.get(e.symbol) ?? 0);
    }
    expect(expected).toBeGreaterThan(0);
    expect(r.counts.fundingEvents).toBe(expected);
    expect(r.final!.fundingPaid).not.toBe(0);
  });
});
