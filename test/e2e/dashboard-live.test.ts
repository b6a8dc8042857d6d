import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { startService, type RunningService } from '../../live/service/service.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { launchChromium, SCREENSHOTS, type Browser } from '../dashboard/browser.ts';
import { REPO } from '../kit/cli.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const TOKEN = 'dashboard-e2e-token-77';
let service: RunningService;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  service = await startService(
    parseSettings({
      SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
      SIMULATOR_REPLAY_MS: 20,
      JOURNAL_PATH: join(mkdtempSync(join(tmpdir(), 'sapphire-dash-')), 'journal.jsonl'),
      ADMIN_API_TOKEN: TOKEN,
      ANALYTICS_PROVIDER: 'plausible',
      PLAUSIBLE_DOMAIN: 'desk.example.org',
      PORT: 0,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, dashboard: dashboardPlugin },
  );
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await service?.close();
});

describe('the dashboard of the running service (paper, embedded simulator) in Chromium', () => {
  it('loads without console errors, draws charts from live data, updates the feed, and Stop asks for the token', async () => {
    // wait until the engine has traded, so the page has something to draw
    const deadline = performance.now() + 60_000;
    while (service.engine.counts.fills === 0 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(service.engine.counts.fills).toBeGreaterThan(0);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    const analytics: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route(/plausible\.io/, async (route) => {
      analytics.push(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/javascript', body: '' });
    });
    await page.goto(service.url.replace('127.0.0.1', 'localhost'));
    await page.waitForFunction(() => document.getElementById('pf-equity')?.textContent !== '—', null, {
      timeout: 30_000,
    });
    // charts are canvases drawn by the bundled chart library
    expect(await page.locator('#equity-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#price-chart canvas').count()).toBeGreaterThan(0);
    // the consent banner is shown and nothing was loaded from the analytics host before consent
    await page.waitForSelector('#consent:not([hidden])', { timeout: 5_000 });
    expect(analytics).toEqual([]);
    await page.click('#consent-decline');

    // the live feed grows as the replayed market trades (server-sent events, no polling)
    // (the list is capped at FEED_MAX items, so a busy replay fills it: watch for a NEW newest item
    // rather than for a longer list)
    await page.evaluate(() => document.querySelector('#feed-list li')?.setAttribute('data-seen', '1'));
    await page.waitForFunction(
      () => {
        const newest = document.querySelector('#feed-list li');
        return newest !== null && !newest.hasAttribute('data-seen');
      },
      null,
      { timeout: 60_000 },
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'live-dashboard.png'), fullPage: true });

    // Stop asks for the admin token and really stops the engine
    expect(service.engine.running).toBe(true);
    await page.click('#btn-stop');
    await page.waitForSelector('#token-dialog[open]', { timeout: 5_000 });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await page.waitForSelector('#answer:has-text("200")', { timeout: 10_000 });
    expect(service.engine.running).toBe(false);
    expect(analytics).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});
