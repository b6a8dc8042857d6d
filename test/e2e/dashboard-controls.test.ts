import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { parseSettings } from '../../pipelines/settings.ts';
import { startService, type RunningService } from '../../live/service/service.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { launchChromium, SCREENSHOTS, type Browser } from '../dashboard/browser.ts';
import { REPO } from '../kit/cli.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const TOKEN = 'dashboard-controls-token-31';
let trading: RunningService;
let noToken: RunningService;
let browser: Browser;

const journal = () => join(mkdtempSync(join(tmpdir(), 'sapphire-dash-controls-')), 'journal.jsonl');

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  trading = await startService(
    parseSettings({
      SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
      // a bar every 150 ms and wide stops: a position lives long enough (seconds) for a person —
      // and this test on a loaded machine — to close it from its row before a stop does
      SIMULATOR_REPLAY_MS: 150,
      ATR_STOP_MULTIPLE: 8,
      JOURNAL_PATH: journal(),
      ADMIN_API_TOKEN: TOKEN,
      MAX_CONCURRENT_POSITIONS: 3,
      PORT: 0,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, dashboard: dashboardPlugin },
  );
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await trading?.close();
  await noToken?.close();
});

async function waitFor(what: string, done: () => boolean, ms = 90_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(done(), what).toBe(true);
}

async function openPage(service: RunningService, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(service.url);
  await page.waitForSelector('body[data-loaded="1"]');
  return { context, page, errors };
}

async function giveToken(page: Page): Promise<void> {
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-ok');
}

describe('dashboard controls and views against the running paper service (Chromium)', () => {
  it('desktop: truthful risk panel, health, config, performance, paging, force entry, close one position, emergency stop with its list, audit', async () => {
    const engine = trading.engine;
    // the page is opened as soon as the strategy decides; the test makes its own trade below
    // (force an entry, close it) so it does not depend on how fast a loaded machine replays
    await waitFor('a fill on live bars', () => engine.ready && engine.running && engine.counts.fills > 0, 180_000);
    const { context, page, errors } = await openPage(trading, { width: 1366, height: 900 });

    // state truth: the headline, the locks and arms tables, last bar from /healthz
    const headline = await page.locator('#risk-headline').textContent();
    expect(headline).toMatch(/^(ACTIVE|ENTRIES LOCKED|REDUCING|HALTED)/);
    expect(await page.locator('#arms-body tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#arms-body tr').first().locator('td').first().textContent()).toMatch(/USDT:momentum$/);
    expect(await page.locator('#health-bar').textContent()).toMatch(/^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // times carry their year; the replay badge and the configuration are shown, no secret
    expect(await page.locator('#replay-badge').textContent()).toContain('at 1 bar / 150 ms');
    const system = await page.locator('#system-body').textContent();
    expect(system).toContain('Version');
    expect(system).toContain('Data source');
    expect(system).not.toContain(TOKEN);
    // controls apply only when they can: running, so Start is disabled and says why
    await page
      .waitForFunction(() => (document.getElementById('btn-start') as HTMLButtonElement).disabled)
      .catch((e: unknown) => {
        throw new Error(
          `Start stayed enabled while running (page errors: ${errors.join(' | ') || 'none'}): ${String(e)}`,
        );
      });
    expect(await page.locator('#btn-start').getAttribute('title')).toBe('already running');
    expect(await page.locator('#btn-stop').isDisabled()).toBe(false);

    // the feed filter shows one kind only
    await page.click('#feed-filter button[data-filter="decision"]');
    const shown = await page
      .locator('#feed-list li:visible')
      .evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(shown.every((k) => k === 'decision')).toBe(true);
    await page.click('#feed-filter button[data-filter="all"]');

    // timeframe choice: 15m candles
    await page.click('#timeframes button[data-tf="3"]');
    expect(await page.locator('#timeframes button[aria-selected="true"]').textContent()).toBe('15m');
    await page.screenshot({ path: join(SCREENSHOTS, 'controls-desktop.png'), fullPage: true });

    // trade history: CSV export and paging (GET /trades)
    const csv = await page.evaluate(async () => (await fetch('/trades.csv')).text());
    expect(csv.split('\n')[0]).toContain('openedAt,time,symbol');

    // force an entry through the admin form: the answer is a message, not raw JSON
    await page.click('#force-entry summary');
    await page.selectOption('#force-action', 'enter-long');
    await page.click('#force-send');
    await giveToken(page);
    await page.waitForSelector('#answer:has-text("Force a decision")');
    const forced = (await page.locator('#answer').textContent())!;
    expect(forced).not.toContain('{');
    expect(forced).toMatch(/accepted|denied by|order/);

    // close one position from its row (a position may be stopped out between the
    // page's last update and the click: the answer then says so, and the next position is tried)
    let symbol = '';
    let answer = '';
    for (let attempt = 0; attempt < 10 && !answer.includes('closing'); attempt++) {
      await waitFor('an open position', () => (engine.portfolio?.positions.length ?? 0) > 0, 120_000);
      // a fresh view each try (at 50 bars a second the streamed book can lag the engine)
      await page.reload();
      await page.waitForSelector('body[data-loaded="1"]');
      await page.waitForSelector('#positions-body button.close-position');
      // the rows move with every bar: the dialog names the position the click really hit
      await page.locator('#positions-body button.close-position').first().click();
      symbol = (await page.locator('#token-list li').first().textContent())!.split(' ')[0]!;
      expect(symbol).toMatch(/USDT$/);
      const closedBefore = engine.trades.length;
      await giveToken(page);
      await page.waitForSelector(`#answer:has-text("Close ${symbol}")`);
      answer = (await page.locator('#answer').textContent())!;
      // beaten by a stop, or the exit denied: the answer says so in words (no raw JSON)
      if (!answer.includes('closing')) expect(answer, answer).toMatch(/nothing to close|was not closed/);
      else
        await waitFor(`${symbol} closed`, () =>
          engine.trades.slice(closedBefore).some((t) => t.symbol === symbol && t.exitReason === 'signal'),
        );
    }
    expect(answer, answer).toContain(`closing ${symbol}`);

    // the closed trade is in the history (with its year) and in the performance figures
    await page.waitForFunction(() => document.querySelectorAll('#trades-body tr').length > 0);
    expect(await page.locator('#trades-body tr td').first().textContent()).toMatch(/^20\d\d-/);
    await page.waitForFunction(() => /%$/.test(document.getElementById('perf-winrate')!.textContent!));
    expect(await page.locator('#perf-body tr').count()).toBeGreaterThan(0);
    const csvAfter = await page.evaluate(async () => (await fetch('/trades.csv')).text());
    expect(csvAfter.trim().split('\n').length).toBe(Math.min(engine.trades.length, 200) + 1);

    // emergency stop: a dangerous-looking confirmation listing what will be closed
    await page.click('#btn-emergency');
    await page.waitForSelector('#token-dialog.danger[open]');
    const items = await page.locator('#token-list li').allTextContents();
    const open = (await page.evaluate(
      async () => (await (await fetch('/dashboard')).json()).positions.length,
    )) as number;
    expect(items.length).toBe(Math.max(1, open));
    expect(await page.locator('#token-ok').textContent()).toBe('Close everything and halt');
    await page.screenshot({ path: join(SCREENSHOTS, 'controls-emergency.png') });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await page.waitForSelector('#answer:has-text("Emergency stop")');
    await waitFor('halted', () => !engine.running);
    // now Start applies and Stop does not; the risk headline says HALTED
    await page.waitForFunction(() => !(document.getElementById('btn-start') as HTMLButtonElement).disabled);
    expect(await page.locator('#btn-stop').isDisabled()).toBe(true);
    await page.waitForFunction(() => document.getElementById('risk-headline')!.textContent!.startsWith('HALTED'));

    // every action above is in the audit trail, with wall time and address
    await page.waitForFunction(() => document.querySelectorAll('#audit-body tr').length >= 3);
    const audit = await page.locator('#audit-body').textContent();
    expect(audit).toContain('POST /emergency_stop');
    expect(audit).toContain(`POST /positions/${symbol}/close`);
    expect(audit).toContain('POST /inference/decisions');
    expect(audit).toContain('(wall)');
    await page.screenshot({ path: join(SCREENSHOTS, 'controls-after-emergency.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 420_000);

  it('phone (390 px): PnL on screen in positions and trades, risk detail not cut, nothing wider than the screen', async () => {
    const { context, page, errors } = await openPage(trading, { width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() =>
      Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll'))
        .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`)
        .slice(0, 8)
        .join(' '),
    );
    expect(overflow, `wider than the screen: ${wide}`).toBeLessThanOrEqual(0);
    // the PnL column is the third: on screen without scrolling the table
    const pnlRight = await page.evaluate(() => {
      const th = Array.from(document.querySelectorAll('#trades thead th')).find((x) => x.textContent === 'Net PnL')!;
      return th.getBoundingClientRect().right;
    });
    expect(pnlRight).toBeLessThanOrEqual(390);
    const posPnlRight = await page.evaluate(() => {
      const th = Array.from(document.querySelectorAll('#positions thead th')).find(
        (x) => x.textContent === 'Unrealised PnL',
      )!;
      return th.getBoundingClientRect().right;
    });
    expect(posPnlRight).toBeLessThanOrEqual(390);
    // the risk tables fit their panel: nothing to scroll sideways, nothing cut
    const riskCut = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#risk .scroll')).map((s) => s.scrollWidth - s.clientWidth),
    );
    for (const c of riskCut) expect(c).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'controls-phone.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('without an admin token: every control disabled with the reason; the agents panel shows the embedded agents', async () => {
    // the demo as `npm start` runs it without a token: embedded agents on, controls off
    noToken = await startService(
      parseSettings({
        SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
        SIMULATOR_REPLAY_MS: 200,
        JOURNAL_PATH: journal(),
        AGENTS_ENABLED: true,
        PORT: 0,
      }),
      { embeddedExchange: startExchangeSimulator, port: 0, dashboard: dashboardPlugin },
    );
    const { context, page, errors } = await openPage(noToken, { width: 1366, height: 900 });
    for (const id of ['#btn-start', '#btn-stop', '#btn-emergency', '#force-send'])
      expect(await page.locator(id).isDisabled(), id).toBe(true);
    expect(await page.locator('#btn-emergency').getAttribute('title')).toContain('ADMIN_API_TOKEN');
    expect(await page.locator('#admin-off').isVisible()).toBe(true);
    expect(await page.locator('#agents').isVisible()).toBe(true);
    const agents = await page.locator('#agents-body tr td:first-child').allTextContents();
    expect(agents).toEqual(expect.arrayContaining(['thesis', 'forecast']));
    // the agents' theses and forecasts show once a signal reached them, gated or not
    const said = () =>
      page
        .locator('#agents-body tr td:nth-child(5)')
        .evaluateAll((tds) => tds.filter((td) => td.textContent !== '—').length);
    const deadline = performance.now() + 90_000;
    while ((await said()) < 2 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      await page.reload();
      await page.waitForSelector('body[data-loaded="1"]');
    }
    expect(await said()).toBe(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'controls-no-token-agents.png'), fullPage: true });
    await context.close();
    // agents off: no empty panel (the trading service runs without them)
    const off = await openPage(trading, { width: 390, height: 844 });
    expect(await off.page.locator('#agents').isVisible()).toBe(false);
    await off.context.close();
    expect(errors).toEqual([]);
  }, 200_000);
});
