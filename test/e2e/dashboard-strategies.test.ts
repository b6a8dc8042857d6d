import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { startService, type RunningService } from '../../live/service/service.ts';
import type { DashboardView } from '../../live/service/dashboard-view.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { launchChromium, SCREENSHOTS, type Browser } from '../dashboard/browser.ts';
import { REPO } from '../kit/cli.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

/** The per-strategy panel against the running paper service trading two strategies at once. */

let service: RunningService;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  service = await startService(
    parseSettings({
      SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
      SIMULATOR_REPLAY_MS: 100,
      STRATEGIES: 'momentum,breakout',
      JOURNAL_PATH: join(mkdtempSync(join(tmpdir(), 'sapphire-dash-strategies-')), 'journal.jsonl'),
      MAX_CONCURRENT_POSITIONS: 3,
      PORT: 0,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, dashboard: dashboardPlugin },
  );
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await service?.close();
});

async function waitFor(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(done(), what).toBe(true);
}

describe('per-strategy performance panel (Chromium, paper service with STRATEGIES=momentum,breakout)', () => {
  it('shows each strategy with its trades, PnL, win rate, capital share and allocation, as the view says', async () => {
    const engine = service.engine;
    await waitFor('closed trades', () => engine.ready && engine.trades.length >= 2, 240_000);
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(service.url);
    await page.waitForSelector('body[data-loaded="1"]');
    expect(await page.locator('#strategies').isVisible()).toBe(true);
    // the rows as the page drew them, against the view it drew them from
    const view = (await page.evaluate(async () => (await fetch('/dashboard')).json())) as DashboardView;
    const names = await page.locator('#strategies-body tr td:first-child').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['momentum', 'breakout']));
    const rows = view.performance.perStrategy;
    expect(rows.map((r) => r.symbol)).toEqual(expect.arrayContaining(['momentum', 'breakout']));
    const traded = rows.filter((r) => r.trades > 0);
    expect(traded.reduce((a, r) => a + r.capitalShare!, 0)).toBeCloseTo(1, 9);
    for (const r of rows) expect(r.allocation === null || (r.allocation > 0 && r.allocation <= 1)).toBe(true);
    // one row's cells: trades and shares in the page's words
    const first = page.locator('#strategies-body tr').first();
    const cells = await first.locator('td').allTextContents();
    expect(cells).toHaveLength(7);
    expect(cells[2]).toMatch(/^\d+$/);
    expect(cells[5]).toMatch(/^(\d+ %|—)$/);
    expect(cells[6]).toMatch(/^(\d+ %|—)$/);
    await page.locator('#performance').screenshot({ path: join(SCREENSHOTS, 'per-strategy-panel.png') });
    expect(errors).toEqual([]);
    await context.close();
  }, 300_000);

  it('draws each strategy’s allocation over time as a time-axis chart, on a desktop and a 390 px phone', async () => {
    const engine = service.engine;
    // both strategies have had an entry the bandit decided on
    const both = () => {
      const last = engine.read.allocations.at(-1);
      return last !== undefined && 'momentum' in last.shares && 'breakout' in last.shares;
    };
    await waitFor('an allocation point for momentum and breakout', both, 240_000);
    for (const [name, viewport] of [
      ['desktop', { width: 1366, height: 900 }],
      ['phone', { width: 390, height: 844 }],
    ] as const) {
      const context = await browser.newContext({ viewport, isMobile: name === 'phone', hasTouch: name === 'phone' });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(service.url);
      await page.waitForSelector('body[data-loaded="1"]');
      const chart = page.locator('#allocation-chart');
      await chart.scrollIntoViewIfNeeded();
      expect(await chart.isVisible()).toBe(true);
      expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
      // what the page drew, against the view it drew it from
      const view = (await page.evaluate(async () => (await fetch('/dashboard')).json())) as DashboardView;
      const series = view.performance.allocationOverTime ?? [];
      for (const strategy of ['momentum', 'breakout']) {
        const s = series.find((x) => x.strategy === strategy);
        expect(s, strategy).toBeDefined();
        // its first point, and the value carried to the last bar
        expect(s!.points.length).toBeGreaterThanOrEqual(2);
        for (const p of s!.points) expect(p.share >= 0 && p.share <= 1).toBe(true);
        for (let i = 1; i < s!.points.length; i++) expect(s!.points[i]!.time).toBeGreaterThan(s!.points[i - 1]!.time);
      }
      await page.waitForFunction(
        () => /momentum:\d+/.test(document.getElementById('allocation-chart')?.dataset.series ?? ''),
        undefined,
        { timeout: 10_000 },
      );
      const drawn = new Map(
        ((await chart.getAttribute('data-series')) ?? '').split(' ').map((x) => {
          const [k, n] = x.split(':');
          return [k!, Number(n)] as const;
        }),
      );
      expect(drawn.get('momentum')).toBeGreaterThanOrEqual(2);
      expect(drawn.get('breakout')).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#allocation-legend .legend-item').allTextContents()).toEqual(
        expect.arrayContaining(['momentum', 'breakout']),
      );
      // it fits the screen: no part of the chart runs off a phone
      const box = (await chart.boundingBox())!;
      expect(box.width).toBeGreaterThan(100);
      expect(box.x + box.width).toBeLessThanOrEqual(viewport.width + 0.5);
      await page.locator('#strategies').screenshot({ path: join(SCREENSHOTS, `allocation-over-time-${name}.png`) });
      expect(errors).toEqual([]);
      await context.close();
    }
  }, 300_000);
});
