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

  it('draws the tearsheet: buy & hold, drawdown periods, distribution, rolling ratios, trade segments, sortable and filterable trades', async () => {
    const file = join(dir, 'tearsheet.html');
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-charts-ready="1"]', { timeout: 10_000 });
    // labels a reader knows, money in USDT, no negative zero
    const metricsText = await page.locator('table.metrics').innerText();
    expect(metricsText).toContain('CAGR');
    expect(metricsText).toContain('SQN');
    expect(metricsText).not.toMatch(/Cagr|Sqn/);
    expect(metricsText).toMatch(/Initial capital\s+10,000\.00 USDT/);
    expect(metricsText).toMatch(/Max consecutive losses\s+\d/);
    expect(html).not.toMatch(/-0\.00/);
    expect(await page.locator('.kpi[data-metric="initialCapital"]').innerText()).toContain('10,000.00 USDT');
    // drawdown periods, long vs short, distribution, rolling chart
    expect(await page.locator('table.drawdowns tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#bySide tbody tr').count()).toBe(2);
    expect(await page.locator('#distribution svg rect.bar').count()).toBeGreaterThan(3);
    expect(await page.locator('#rolling-chart canvas').count()).toBeGreaterThan(0);
    expect(Number(await page.locator('#rolling-chart').getAttribute('data-points'))).toBeGreaterThan(10);
    expect(html).toContain('buy &amp; hold (equal weight, same capital)');
    // trades are segments; exit labels only when zoomed in
    const btc = page.locator('#price-chart-0');
    const own = result.trades.filter((t) => t.symbol === series[0]!.symbol).length;
    expect(await btc.getAttribute('data-segments')).toBe(String(own));
    expect(await btc.getAttribute('data-labels')).toBe('off');
    await btc.scrollIntoViewIfNeeded();
    const box = (await btc.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 80 && (await btc.getAttribute('data-labels')) === 'off'; i++) await page.mouse.wheel(0, -300);
    await page.waitForFunction(
      () => document.querySelector('#price-chart-0')?.getAttribute('data-labels') === 'on',
      null,
      {
        timeout: 5_000,
      },
    );
    // the other charts follow the zoom (one time axis)
    const zoomed = await btc.getAttribute('data-range');
    expect(zoomed).toMatch(/^\d+-\d+$/);
    const [lo, hi] = zoomed!.split('-').map(Number);
    expect(hi! - lo!).toBeLessThan(120 * 5 * 60 * 2); // under 240 five-minute candles
    expect(await page.locator('#equity-chart').getAttribute('data-range')).toBe(zoomed);
    expect(await page.locator('#rolling-chart').getAttribute('data-range')).toBe(zoomed);
    // sort by net PnL (descending on the second click) and filter by side
    const pnlHeader = page.locator('table.trades thead th', { hasText: 'Net PnL' });
    await pnlHeader.click();
    await pnlHeader.click();
    expect(await pnlHeader.getAttribute('aria-sort')).toBe('descending');
    const firstPnl = Number(
      await page.locator('table.trades tbody tr').first().locator('td').nth(9).getAttribute('data-v'),
    );
    expect(firstPnl).toBe(Math.max(...result.trades.map((t) => t.netPnl)));
    await page.fill('#trade-filter', 'short');
    const shorts = result.trades.filter((t) => t.side === 'SHORT').length;
    expect(await page.locator('table.trades tbody tr:visible').count()).toBe(shorts);
    expect(await page.locator('#trade-count').innerText()).toBe(`${shorts} of ${result.trades.length} shown`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'backtest-report-tearsheet.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
