import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestResult } from '../../backtests/run-backtest.ts';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../pipelines/settings.ts';
import {
  candles,
  equityAndDrawdown,
  monthlyReturns,
  renderBacktestHtml,
  tradeMarkers,
} from '../../dashboard/reports/backtest-html.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { launchChromium, SCREENSHOTS, type Browser } from './browser.ts';

const settings = withOverrides(DEFAULT_SETTINGS, {
  SYMBOLS: ['BTCUSDT', 'ETHUSDT'],
  ADMIN_API_TOKEN: 'test-admin-token-must-not-leak',
});
let result: BacktestResult;
let series: BarColumns[];
let html: string;
let dir: string;
let browser: Browser;

beforeAll(async () => {
  series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
  result = runBacktest({ settings, series });
  html = renderBacktestHtml(result, { dataDir: 'test/fixtures/core', settings, series });
  dir = mkdtempSync(join(tmpdir(), 'sapphire-report-'));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('renderBacktestHtml', () => {
  it('is deterministic, self-contained and keeps secrets out', () => {
    expect(result.trades.length).toBeGreaterThan(0);
    expect(renderBacktestHtml(result, { dataDir: 'test/fixtures/core', settings, series })).toBe(html);
    expect(html).not.toContain('test-admin-token-must-not-leak');
    expect(html).toContain('ADMIN_API_TOKEN');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).toContain('TradingView Lightweight Charts');
  });

  it('buckets long equity curves and keeps the deepest drawdown', () => {
    const eq = result.equity;
    const full = equityAndDrawdown(eq, eq.length);
    const small = equityAndDrawdown(eq, 50);
    expect(full.equity).toHaveLength(eq.length);
    expect(small.equity.length).toBeLessThanOrEqual(50);
    expect(small.equity.at(-1)!.value).toBe(eq.at(-1)!.equity);
    const minFull = Math.min(...full.drawdown.map((p) => p.value));
    const minSmall = Math.min(...small.drawdown.map((p) => p.value));
    expect(minSmall).toBeCloseTo(minFull, 10);
    expect(-minFull).toBeCloseTo(result.metrics.maxDrawdownPct, 6);
    for (let i = 1; i < small.equity.length; i++)
      expect(small.equity[i]!.time).toBeGreaterThan(small.equity[i - 1]!.time);
  });

  it('aggregates candles without losing the range and marks every entry and exit', () => {
    const c = series[0]!;
    const all = candles(c, -Infinity, Infinity, c.length);
    expect(all).toHaveLength(c.length);
    const few = candles(c, -Infinity, Infinity, 100);
    expect(few.length).toBeLessThanOrEqual(100);
    expect(Math.max(...few.map((k) => k.high))).toBe(Math.max(...c.high));
    expect(Math.min(...few.map((k) => k.low))).toBe(Math.min(...c.low));
    expect(few[0]!.open).toBe(c.open[0]);
    expect(few.at(-1)!.close).toBe(c.close[c.length - 1]);
    const trades = result.trades.filter((t) => t.symbol === c.symbol);
    const marks = tradeMarkers(trades, few);
    expect(marks).toHaveLength(trades.length * 2);
    const times = new Set(few.map((k) => k.time));
    for (const m of marks) expect(times.has(m.time)).toBe(true);
  });

  it('chains monthly returns to the total return', () => {
    const rows = monthlyReturns(result.equity, settings.INITIAL_BALANCE);
    expect(rows.length).toBeGreaterThan(0);
    const total = (rows.reduce((a, r) => a * (1 + r.returnPct / 100), 1) - 1) * 100;
    expect(total).toBeCloseTo(result.metrics.totalReturnPct, 8);
  });

  it('opens from file:// in Chromium with every chart drawn, rows in every table, and no network', async () => {
    const file = join(dir, 'backtest.html');
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-charts-ready="1"]', { timeout: 10_000 });
    expect(await page.locator('#equity-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#drawdown-chart canvas').count()).toBeGreaterThan(0);
    for (const [i, c] of series.entries()) {
      const chart = page.locator(`#price-chart-${i}`);
      expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
      const n = result.trades.filter((t) => t.symbol === c.symbol).length;
      expect(await chart.getAttribute('data-markers')).toBe(String(n * 2));
    }
    // the canvas actually has pixels drawn on it (not a blank surface)
    const painted = await page.evaluate(() => {
      const c = Array.from(document.querySelectorAll<HTMLCanvasElement>('#equity-chart canvas')).find(
        (x) => x.width > 100 && x.height > 100,
      );
      if (!c) return 0;
      const ctx = c.getContext('2d');
      if (!ctx) return 0;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(painted).toBeGreaterThan(1000);
    expect(await page.locator('table.trades tbody tr').count()).toBe(result.trades.length);
    expect(await page.locator('table.metrics tbody tr').count()).toBeGreaterThan(15);
    expect(await page.locator('table.monthly tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#perSymbol tbody tr').count()).toBe(result.metrics.perSymbol.length);
    expect(await page.locator('#exitReasons tbody tr').count()).toBe(result.metrics.exitReasons.length);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'backtest-report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
