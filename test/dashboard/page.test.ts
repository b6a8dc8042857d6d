import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestResult } from '../../backtests/run-backtest.ts';
import type { AnalyticsView, DashboardView } from '../../live/service/dashboard-view.ts';
import { renderBacktestHtml } from '../../dashboard/reports/backtest-html.ts';
import type { BarColumns, Decision, Denied, PipelineEvent } from '../../pipelines/model/index.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../pipelines/settings.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { launchChromium, SCREENSHOTS, type Browser } from './browser.ts';
import { lastOpenTime, PEER_TOKEN, startPeer, toMessages, viewFromBacktest, type Peer } from './peer.ts';

const settings = withOverrides(DEFAULT_SETTINGS, { SYMBOLS: ['BTCUSDT', 'ETHUSDT'] });
let series: BarColumns[];
let result: BacktestResult;
let asOf: number;
let reportsDir: string;
let browser: Browser;
const peers: Peer[] = [];

const NO_ANALYTICS: AnalyticsView = { provider: '', id: '', domain: '' };

async function peerWith(analytics: AnalyticsView): Promise<Peer> {
  const view: DashboardView = viewFromBacktest(result, settings, series, {
    asOf,
    reportsDir,
    analytics,
    running: true,
  });
  const peer = await startPeer(view, reportsDir);
  peers.push(peer);
  return peer;
}

/** A fresh browser context (own storage) with console errors and outside requests recorded. */
async function open(peer: Peer, viewport = { width: 1366, height: 900 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  const errors: string[] = [];
  const outside: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith(peer.url)) outside.push(r.url());
  });
  await page.goto(`${peer.url}/`);
  await page.waitForSelector('body[data-loaded="1"]', { timeout: 10_000 });
  return { context, page, errors, outside };
}

beforeAll(async () => {
  series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
  result = runBacktest({ settings, series, keepEvents: true });
  asOf = lastOpenTime(result.events!);
  reportsDir = mkdtempSync(join(tmpdir(), 'sapphire-reports-'));
  writeFileSync(
    join(reportsDir, 'backtest-fixture.html'),
    renderBacktestHtml(result, { dataDir: 'test/fixtures/core', settings }),
  );
  browser = await launchChromium();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  for (const p of peers) await p.close();
  await browser?.close();
  rmSync(reportsDir, { recursive: true, force: true });
});

describe('dashboard page (against a test peer serving a real backtest)', () => {
  it('shows portfolio, charts, positions with stops, trades, agents, risk, system and reports', async () => {
    const peer = await peerWith(NO_ANALYTICS);
    const view = peer.view;
    expect(view.positions.length).toBeGreaterThan(0);
    expect(view.trades.length).toBeGreaterThan(0);
    const { context, page, errors, outside } = await open(peer);
    expect(await page.locator('#equity-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#drawdown-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#price-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#positions-body tr').count()).toBe(view.positions.length);
    const firstPos = page.locator('#positions-body tr').first();
    expect(await firstPos.locator('td').first().textContent()).toBe(view.positions[0]!.symbol);
    if (view.positions[0]!.stopPrice !== null)
      expect(await firstPos.locator('td').nth(6).textContent()).not.toBe('none');
    expect(view.positions[0]!.reason).toBeTruthy();
    expect(await firstPos.locator('td').nth(8).textContent()).toBe(view.positions[0]!.reason);
    expect(await firstPos.locator('td').nth(8).isVisible()).toBe(true);
    expect(await page.locator('#why-body .entry-reason').textContent()).toBe(
      `Opened because: ${view.trades[0]!.entryReason}`,
    );
    expect(await page.locator('#trades-body tr').count()).toBe(Math.min(25, view.trades.length));
    expect(await page.locator('#agents-body tr').count()).toBe(view.agents.length);
    expect(await page.locator('#symbol-tabs button').count()).toBe(2);
    expect(await page.locator('#pf-equity').textContent()).toBe(
      view.portfolio.equity.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    );
    const wins = view.trades.filter((t) => t.netPnl > 0).length;
    expect(await page.locator('#pf-trades').textContent()).toBe(`${wins} of ${view.trades.length} won`);
    expect(await page.locator('#risk-state').textContent()).toBe(`risk ${view.risk.state}`);
    expect(await page.locator('#running').textContent()).toBe('running');
    expect(await page.locator('#why-body .headline').textContent()).toContain('Last trade');
    const link = page.locator('#reports-list a');
    expect(await link.count()).toBe(1);
    expect(await link.getAttribute('href')).toBe('/reports/backtest-fixture.html');
    expect(await page.locator('#consent').isVisible()).toBe(false);
    // the candle chart is actually drawn
    await page.locator('#symbol-tabs button', { hasText: 'ETHUSDT' }).click();
    expect(await page.locator('#symbol-tabs button[aria-selected="true"]').textContent()).toBe('ETHUSDT');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-desktop.png'), fullPage: true });
    // the linked report opens from the plugin with its charts drawn
    const report = await context.newPage();
    await report.goto(`${peer.url}/reports/backtest-fixture.html`);
    await report.waitForSelector('body[data-charts-ready="1"]', { timeout: 10_000 });
    expect(await report.locator('#equity-chart canvas').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  });

  it('fits a phone-sized screen', async () => {
    const peer = await peerWith(NO_ANALYTICS);
    const { context, page, errors } = await open(peer, { width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.locator('#btn-stop').isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-phone.png'), fullPage: false });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('updates the feed, the why panel, the trades and the equity from server-sent events', async () => {
    const peer = await peerWith(NO_ANALYTICS);
    const { context, page, errors } = await open(peer);
    await page.waitForSelector('body[data-live="1"]', { timeout: 10_000 });
    const later = (result.events as PipelineEvent[]).filter((e) => e.time > asOf);
    const decision = later.find((e) => e.kind === 'decision');
    const trade = later.find((e) => e.kind === 'trade-closed');
    const portfolio = later.find((e) => e.kind === 'portfolio');
    expect(decision && trade && portfolio).toBeTruthy();
    const tradesBefore = await page.locator('#trades-body tr').count();
    for (const m of toMessages(decision!, settings)) peer.emit(m);
    await page.waitForSelector('#feed-list li[data-kind="decision"]', { timeout: 5_000 });
    await page.waitForSelector('#feed-list li[data-kind="reasoning"]', { timeout: 5_000 });
    expect(await page.locator('#why-body .headline').textContent()).toContain(decision!.symbol);
    expect(await page.locator('#why-body .gates li').count()).toBe(
      (decision as unknown as { gates: unknown[] }).gates.length,
    );
    // a real denial of a real decision: the why panel says what became of it
    const decisions = later.filter((x): x is Decision => x.kind === 'decision');
    const denied = later.find(
      (e): e is Denied => e.kind === 'denied' && decisions.some((x) => x.time === e.time && x.symbol === e.symbol),
    );
    expect(denied).toBeTruthy();
    const deniedDecision = decisions.find((x) => x.time === denied!.time && x.symbol === denied!.symbol)!;
    for (const m of [...toMessages(deniedDecision, settings), ...toMessages(denied!, settings)]) peer.emit(m);
    await page.waitForSelector('#why-body .outcome:has-text("Denied by")', { timeout: 5_000 });
    // the same reasoning again (as after a reconnect) is shown once: checked once the trade
    // sent after it has arrived (one stream, in order)
    const reasoningBefore = await page.locator('#feed-list li[data-kind="reasoning"]').count();
    for (const m of toMessages(deniedDecision, settings)) if (m.event === 'reasoning') peer.emit(m);
    expect(await page.locator('#why-body .outcome').textContent()).toContain(denied!.rule);
    await page.waitForSelector('#feed-list li[data-kind="risk"]', { timeout: 5_000 });
    for (const m of toMessages(trade!, settings)) peer.emit(m);
    await page.waitForSelector('#feed-list li[data-kind="trade"]:has-text("closed")', { timeout: 5_000 });
    expect(await page.locator('#feed-list li[data-kind="reasoning"]').count()).toBe(reasoningBefore);
    // tables redraw at most every 100 ms under a stream of events: wait for the new row
    const rows = Math.min(25, tradesBefore + 1);
    await page
      .waitForFunction((n) => document.querySelectorAll('#trades-body tr').length === n, rows, { timeout: 5_000 })
      .catch(() => undefined);
    expect(await page.locator('#trades-body tr').count()).toBe(rows);
    for (const m of toMessages(portfolio!, settings)) peer.emit(m);
    const expected = (portfolio as { equity: number }).equity.toLocaleString('en-US', {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    await page.waitForFunction((v) => document.getElementById('pf-equity')?.textContent === v, expected, {
      timeout: 5_000,
    });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-feed.png'), fullPage: false });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('reconnects the live feed after the stream drops and reloads the view', async () => {
    const peer = await peerWith(NO_ANALYTICS);
    const { context, page, errors } = await open(peer);
    await page.waitForSelector('body[data-live="1"]', { timeout: 10_000 });
    await expect.poll(() => peer.clients(), { timeout: 5_000 }).toBe(1);
    const loadsBefore = peer.loads();
    peer.dropClients();
    // the browser reconnects by itself (EventSource retry), then the page reloads the view
    await expect.poll(() => peer.clients(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => peer.loads(), { timeout: 10_000 }).toBeGreaterThan(loadsBefore);
    await page.waitForSelector('#conn', { state: 'hidden', timeout: 5_000 });
    const later = (result.events as PipelineEvent[]).filter((e) => e.kind === 'decision' && e.time > asOf);
    for (const m of toMessages(later[0]!, settings)) peer.emit(m);
    await page.waitForSelector('#feed-list li[data-kind="decision"]', { timeout: 5_000 });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('Stop asks for the admin token, sends it as Bearer, shows the answer and keeps it in the session only', async () => {
    const peer = await peerWith(NO_ANALYTICS);
    const { context, page, errors } = await open(peer);
    await page.click('#btn-stop');
    await page.waitForSelector('#token-dialog[open]', { timeout: 5_000 });
    expect(peer.calls).toEqual([]); // nothing sent before the token is given
    await page.click('#token-cancel');
    await page.waitForSelector('#answer:has-text("cancelled")', { timeout: 5_000 });
    expect(peer.calls).toEqual([]);

    await page.click('#btn-stop');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-ok');
    await page.waitForSelector('#answer:has-text("403")', { timeout: 5_000 });
    expect(peer.calls).toEqual([{ path: '/stop', status: 403 }]);
    expect(await page.evaluate(() => sessionStorage.getItem('sapphire.adminToken'))).toBeNull();

    await page.click('#btn-stop');
    await page.fill('#token-input', PEER_TOKEN);
    await page.press('#token-input', 'Enter');
    await page.waitForSelector('#answer:has-text("200")', { timeout: 5_000 });
    expect(peer.calls.at(-1)).toEqual({ path: '/stop', status: 200 });
    expect(await page.locator('#answer').textContent()).toContain('test peer: /stop accepted');
    expect(await page.locator('#answer').textContent()).not.toContain(PEER_TOKEN);
    expect(await page.evaluate(() => sessionStorage.getItem('sapphire.adminToken'))).toBe(PEER_TOKEN);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(PEER_TOKEN);
    await page.waitForFunction(() => document.getElementById('running')?.textContent === 'stopped', null, {
      timeout: 5_000,
    });

    // the next action asks again, with the session's token filled in
    await page.click('#btn-emergency');
    await page.waitForSelector('#token-dialog[open]', { timeout: 5_000 });
    expect(await page.inputValue('#token-input')).toBe(PEER_TOKEN);
    expect(await page.locator('#token-what').textContent()).toContain('EMERGENCY');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-token.png'), fullPage: false });
    await page.click('#token-ok');
    await page.waitForSelector('#answer:has-text("/emergency_stop")', { timeout: 5_000 });
    expect(peer.calls.at(-1)).toEqual({ path: '/emergency_stop', status: 200 });
    // the browser logs the refused request itself; nothing else may fail
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await context.close();

    // a new tab (new session) starts without the token
    const fresh = await open(peer);
    expect(await fresh.page.evaluate(() => sessionStorage.getItem('sapphire.adminToken'))).toBeNull();
    await fresh.context.close();
  });
});

describe('consent banner gates analytics', () => {
  async function track(page: import('playwright-core').Page, hosts: RegExp) {
    const hits: string[] = [];
    await page.route(hosts, async (route) => {
      hits.push(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/javascript', body: '/* analytics stub */' });
    });
    return hits;
  }

  it('GA4: nothing before accept; gtag with anonymize_ip after; remembered', async () => {
    const peer = await peerWith({ provider: 'ga4', id: 'G-TEST12345', domain: '' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const hits = await track(page, /googletagmanager\.com|google-analytics\.com/);
    await page.goto(`${peer.url}/`);
    await page.waitForSelector('body[data-loaded="1"]');
    await page.waitForSelector('#consent:not([hidden])');
    expect(await page.locator('#consent-provider').textContent()).toBe('Google Analytics 4');
    expect(hits).toEqual([]);
    expect(await page.evaluate(() => 'gtag' in window)).toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-consent.png'), fullPage: false });
    await page.click('#consent-accept');
    await page.waitForFunction(() => document.querySelector('script[src*="googletagmanager"]') !== null);
    await expect.poll(() => hits.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(hits[0]).toContain('id=G-TEST12345');
    const config = await page.evaluate(() =>
      JSON.stringify(
        (window as unknown as { dataLayer: unknown[] }).dataLayer.map((a) => Array.from(a as ArrayLike<unknown>)),
      ),
    );
    expect(config).toContain('"anonymize_ip":true');
    expect(await page.locator('#consent').isVisible()).toBe(false);
    // remembered: no banner, loaded straight away on the next visit
    await page.reload();
    await page.waitForSelector('body[data-loaded="1"]');
    expect(await page.locator('#consent').isVisible()).toBe(false);
    await page.waitForFunction(() => document.querySelector('script[src*="googletagmanager"]') !== null);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('Plausible: decline loads nothing, now or on the next visit', async () => {
    const peer = await peerWith({ provider: 'plausible', id: '', domain: 'sapphire.example' });
    const context = await browser.newContext();
    const page = await context.newPage();
    const hits = await track(page, /plausible\.io/);
    await page.goto(`${peer.url}/`);
    await page.waitForSelector('#consent:not([hidden])');
    expect(await page.locator('#consent-provider').textContent()).toBe('Plausible');
    await page.click('#consent-decline');
    expect(await page.locator('#consent').isVisible()).toBe(false);
    await page.reload();
    await page.waitForSelector('body[data-loaded="1"]');
    expect(await page.locator('#consent').isVisible()).toBe(false);
    expect(await page.locator('script[src*="plausible"]').count()).toBe(0);
    expect(hits).toEqual([]);
    await context.close();

    // and accepting (another visitor) loads plausible with the configured domain
    const other = await browser.newContext();
    const p2 = await other.newPage();
    const hits2 = await track(p2, /plausible\.io/);
    await p2.goto(`${peer.url}/`);
    await p2.waitForSelector('#consent:not([hidden])');
    expect(hits2).toEqual([]);
    await p2.click('#consent-accept');
    await expect.poll(() => hits2.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(await p2.locator('script[src*="plausible"]').getAttribute('data-domain')).toBe('sapphire.example');
    await other.close();
  });
});
