import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { startService, type RunningService } from '../../live/service/service.ts';
import type { OpenOrderView } from '../../live/service/dashboard-view.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { launchChromium, SCREENSHOTS, type Browser } from '../dashboard/browser.ts';
import { REPO } from '../kit/cli.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

/**
 * The Cancel button of an open order, in Chromium, against the running paper service: a real
 * entry order (forced through the pipeline) waits for its symbol's next bar — slow bars here, so
 * a person (and this test on a loaded machine) has seconds to cancel it — and is gone once the
 * venue has withdrawn it.
 */

const TOKEN = 'dashboard-cancel-token-77';
const services: RunningService[] = [];
let browser: Browser;

const journal = () => join(mkdtempSync(join(tmpdir(), 'sapphire-dash-cancel-')), 'journal.jsonl');

async function paper(token: string): Promise<RunningService> {
  const s = await startService(
    parseSettings({
      SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
      // a bar every 5 s: an entry order stays open for seconds before it can fill
      SIMULATOR_REPLAY_MS: 5000,
      JOURNAL_PATH: journal(),
      ADMIN_API_TOKEN: token,
      MAX_CONCURRENT_POSITIONS: 5,
      PORT: 0,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, dashboard: dashboardPlugin },
  );
  services.push(s);
  return s;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const s of services) await s.close();
});

async function waitFor(what: string, done: () => boolean, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(done(), what).toBe(true);
}

const openOrders = async (s: RunningService): Promise<OpenOrderView[]> =>
  ((await (await fetch(`${s.url}/orders`)).json()) as { orders: OpenOrderView[] }).orders;

/**
 * Right after a bar, a working entry order: the strategy's own if one was just sent, else a long
 * entry forced on a flat symbol (when every symbol is held, one is closed first). It is then open
 * until that symbol's next bar (5 s away). Returns its client order id.
 */
async function freshEntry(s: RunningService): Promise<{ id: string; symbol: string }> {
  const engine = s.engine;
  const why: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const seen = engine.lastBarTime;
    await waitFor('a new bar', () => engine.lastBarTime > seen, 30_000);
    const orders = await openOrders(s);
    const working = orders.find((o) => o.cancellable && o.clientOrderId !== null);
    if (working) return { id: working.clientOrderId!, symbol: working.symbol };
    const busy = new Set([...(engine.portfolio?.positions.map((p) => p.symbol) ?? []), ...orders.map((o) => o.symbol)]);
    const symbol = s.settings.SYMBOLS.find((x) => !busy.has(x) && engine.features.has(x));
    if (symbol === undefined) {
      const held = engine.portfolio?.positions[0]?.symbol;
      why.push(`all busy (${[...busy].join(',')}): closing ${held}`);
      if (held) await engine.submitDecision({ symbol: held, action: 'exit', confidence: 1, reason: 'make room' });
      continue;
    }
    const outcome = await engine.submitDecision({
      symbol,
      action: 'enter-long',
      confidence: 1,
      reason: 'browser cancel test',
    });
    const order = outcome.events.find((e) => e.kind === 'order');
    if (outcome.accepted && order?.kind === 'order') return { id: order.clientOrderId, symbol };
    why.push(`${symbol}: ${outcome.reason ?? outcome.events.map((e) => e.kind).join(',')}`);
  }
  throw new Error(`no working entry in 20 bars: ${why.join(' | ')}`);
}

describe('Cancel one open order from the dashboard (Chromium, running paper service)', () => {
  it('desktop: Cancel on a real working entry asks for confirmation, answers in words, and the order is gone', async () => {
    const s = await paper(TOKEN);
    await waitFor('the engine follows the market', () => s.engine.ready && s.engine.running, 120_000);
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    let answer = '';
    let id = '';
    for (let attempt = 0; attempt < 5 && !answer.includes('cancelling'); attempt++) {
      const entry = await freshEntry(s);
      id = entry.id;
      await page.goto(s.url);
      await page.waitForSelector('body[data-loaded="1"]');
      const button = page.locator(`#orders-body button.cancel-order[data-order="${id}"]`);
      await button.waitFor();
      if (await button.isDisabled()) continue; // filled between the view and the page (a slow machine)
      await button.click();
      // the confirmation names the order
      await page.waitForSelector('#token-dialog[open]');
      expect(await page.locator('#token-list li').first().textContent()).toContain(id);
      expect(await page.locator('#token-ok').textContent()).toBe('Cancel the order');
      await page.fill('#token-input', TOKEN);
      await page.click('#token-ok');
      await page.waitForSelector(`#answer:has-text("Cancel order ${id}")`);
      answer = (await page.locator('#answer').textContent())!;
      expect(answer).not.toContain('{');
      if (!answer.includes('cancelling')) expect(answer, answer).toContain('not open any more');
    }
    expect(answer, answer).toContain(`DELETE /orders/${id} → 202`);
    expect(answer).toContain('cancelling');

    // withdrawn at the symbol's next bar: the feed says so and the row goes, with no reload by hand
    await page.waitForFunction((orderId) => !document.querySelector(`#orders-body tr[data-order="${orderId}"]`), id, {
      timeout: 30_000,
    });
    await page.waitForSelector(`#feed-list li:has-text("${id} cancelled: cancelled by the operator")`);
    expect(s.engine.fills.some((f) => f.clientOrderId === id)).toBe(false);
    // audited with what, when and from where
    await page.waitForSelector(`#audit-body tr:has-text("DELETE /orders/${id}")`);
    await page.screenshot({ path: join(SCREENSHOTS, 'cancel-order-desktop.png'), fullPage: true });

    // protective orders of an open position: listed, Cancel disabled with the reason shown
    await waitFor('an open position', () => (s.engine.portfolio?.positions.length ?? 0) > 0, 120_000);
    await page.reload();
    await page.waitForSelector('body[data-loaded="1"]');
    const stopRow = page.locator('#orders-body tr', { hasText: 'STOP_MARKET' }).first();
    await stopRow.waitFor();
    expect(await stopRow.locator('button.cancel-order').isDisabled()).toBe(true);
    expect(await stopRow.locator('.why-off').textContent()).toContain('close the position instead');
    expect(errors).toEqual([]);
    await context.close();
  }, 300_000);

  it('without an admin token: Cancel is disabled and says why', async () => {
    const s = await paper('');
    await waitFor('the engine follows the market', () => s.engine.ready && s.engine.running, 120_000);
    const { id } = await freshEntry(s);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(s.url);
    await page.waitForSelector('body[data-loaded="1"]');
    const button = page.locator(`#orders-body button.cancel-order[data-order="${id}"]`);
    await button.waitFor();
    expect(await button.isDisabled()).toBe(true);
    expect(await button.getAttribute('title')).toContain('ADMIN_API_TOKEN');
    expect(await page.locator(`#orders-body tr[data-order="${id}"] .why-off`).textContent()).toContain(
      'ADMIN_API_TOKEN',
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'cancel-order-no-token-phone.png'), fullPage: true });
    await context.close();
  }, 200_000);
});
