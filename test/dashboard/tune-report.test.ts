import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../pipelines/settings.ts';
import {
  bestSoFar,
  paramText,
  renderTuneHtml,
  type TuneFold,
  type TuneReport,
  type TuneTrial,
} from '../../dashboard/reports/tune-html.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { launchChromium, SCREENSHOTS, type Browser } from './browser.ts';

/**
 * A small real study: a grid over two tunable parameters and one categorical choice (universe),
 * each trial a backtest on the real fixture bars; two walk-forward folds pick the best params on
 * the train window and score them on the next day.
 */
const series: Record<string, BarColumns[]> = {
  BTCUSDT: [fixtureColumns('BTCUSDT')],
  'BTCUSDT,ETHUSDT': [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
};
const DAY = 86_400_000;

function score(params: TuneTrial['params'], from?: number, to?: number): number {
  const universe = String(params.universe);
  const settings = withOverrides(DEFAULT_SETTINGS, {
    SYMBOLS: universe.split(','),
    MOMENTUM_LOOKBACK_BARS: params.MOMENTUM_LOOKBACK_BARS,
    ATR_STOP_MULTIPLE: params.ATR_STOP_MULTIPLE,
  });
  return runBacktest({ settings, series: series[universe]!, from, to }).metrics.totalReturnPct;
}

function buildStudy(): TuneReport {
  const grid: TuneTrial['params'][] = [];
  for (const lb of [12, 36])
    for (const atr of [1.5, 3])
      for (const universe of ['BTCUSDT', 'BTCUSDT,ETHUSDT'])
        grid.push({ MOMENTUM_LOOKBACK_BARS: lb, ATR_STOP_MULTIPLE: atr, universe });
  const trials: TuneTrial[] = grid.map((params, number) => ({
    number,
    params,
    value: score(params),
    state: 'complete',
  }));
  const best = [...trials].sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity))[0]!;
  const start = fixtureColumns('BTCUSDT').openTime[0]!;
  const folds: TuneFold[] = [1, 2].map((fold) => {
    const trainFrom = start + (fold - 1) * DAY;
    const trainTo = trainFrom + 2 * DAY;
    const testTo = trainTo + DAY;
    const scored = grid.map((p) => ({ p, v: score(p, trainFrom, trainTo) }));
    scored.sort((a, b) => b.v - a.v);
    const top = scored[0]!;
    return {
      fold,
      trainFrom,
      trainTo,
      testFrom: trainTo,
      testTo,
      inSample: top.v,
      outOfSample: score(top.p, trainTo, testTo),
      params: top.p,
    };
  });
  // one failed trial, as a study can have
  trials.push({
    number: trials.length,
    params: { MOMENTUM_LOOKBACK_BARS: 864, ATR_STOP_MULTIPLE: 6, universe: 'BTCUSDT' },
    value: null,
    state: 'failed',
  });
  return {
    name: 'fixture-grid',
    objective: 'totalReturnPct',
    sampler: 'grid',
    symbols: ['BTCUSDT', 'ETHUSDT'],
    trials,
    best: { number: best.number, value: best.value!, params: best.params },
    folds,
    settings: {
      ...DEFAULT_SETTINGS,
      ASTER_SECRET_KEY: 'super-secret-value-xyz',
      REDIS_URL: 'redis://user:pw-xyz@host:6379',
    },
  };
}

let study: TuneReport;
let html: string;
let dir: string;
let browser: Browser;

beforeAll(async () => {
  study = buildStudy();
  html = renderTuneHtml(study);
  dir = mkdtempSync(join(tmpdir(), 'sapphire-tune-'));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('renderTuneHtml', () => {
  it('computes the running best and keeps secrets out', () => {
    const line = bestSoFar(study.trials);
    const values = study.trials.filter((t) => t.value !== null).map((t) => t.value!);
    expect(line).toHaveLength(values.length);
    expect(line.at(-1)!.y).toBe(Math.max(...values));
    for (let i = 1; i < line.length; i++) expect(line[i]!.y).toBeGreaterThanOrEqual(line[i - 1]!.y);
    expect(renderTuneHtml(study)).toBe(html);
    expect([paramText(2.0110609183320776), paramText(334), paramText('BTCUSDT'), paramText(true)]).toEqual([
      '2.01106',
      '334',
      'BTCUSDT',
      'true',
    ]);
    expect(html).not.toContain('super-secret-value-xyz');
    expect(html).not.toContain('pw-xyz');
    expect(html).not.toMatch(/<script/i);
  });

  it('draws history, one scatter per parameter and the folds in Chromium, offline', async () => {
    const file = join(dir, 'tune.html');
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href);
    const valued = study.trials.filter((t) => t.value !== null).length;
    expect(await page.locator('#history svg circle.pt').count()).toBe(valued);
    expect(await page.locator('#history svg path.line').count()).toBe(1);
    expect(await page.locator('#params .param').count()).toBe(3);
    expect(await page.locator('#params .param[data-param="universe"] circle.pt').count()).toBe(valued);
    expect(await page.locator('#folds svg rect.bar').count()).toBe(4);
    expect(await page.locator('#folds table tbody tr').count()).toBe(2);
    expect(await page.locator('table.trials tbody tr').count()).toBe(study.trials.length);
    expect(await page.locator('table.trials tr.best').count()).toBe(1);
    const box = await page.locator('#history svg').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    // plots use the section's full width; no table is wider than its box (no cut-off columns)
    const section = await page.locator('#history').boundingBox();
    expect(box!.width).toBeGreaterThan(section!.width * 0.9);
    const overflowing = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.scroll'))
        .filter((el) => el.scrollWidth > el.clientWidth + 1)
        .map((el) => `${el.closest('section')?.id}: ${el.scrollWidth} > ${el.clientWidth}`),
    );
    expect(overflowing).toEqual([]);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'tune-report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('splits each fold winner by strategy when a run held several, in Chromium, offline', async () => {
    // two real strategies over the fixture, each window a real backtest: the section must show
    // exactly the per-strategy parts the runs produced, and stay away from one-strategy studies
    const settings = withOverrides(DEFAULT_SETTINGS, {
      SYMBOLS: ['BTCUSDT', 'ETHUSDT'],
      STRATEGIES: ['mean-reversion', 'breakout'],
    });
    const start = fixtureColumns('BTCUSDT').openTime[0]!;
    const part = (from: number, to: number) =>
      runBacktest({ settings, series: series['BTCUSDT,ETHUSDT']!, from, to }).strategies.map((x) => ({
        strategy: x.strategy,
        trades: x.trades,
        netPnl: x.netPnl,
        winRate: x.winRate,
        meanShare: x.meanShare,
      }));
    const inSample = part(start, start + 3 * DAY);
    const outOfSample = part(start + 3 * DAY, start + 4 * DAY);
    expect(inSample.length).toBeGreaterThan(1);
    const fold: TuneFold = {
      ...study.folds![0]!,
      strategies: { inSample, outOfSample },
    };
    const several = renderTuneHtml({ ...study, folds: [fold] });
    expect(html).not.toContain('id="strategies"');
    const file = join(dir, 'tune-strategies.html');
    writeFileSync(file, several);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href);
    const rows = await page
      .locator('#strategies table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
    const want = [
      ...inSample.map((p) => ({ window: 'in-sample', p })),
      ...outOfSample.map((p) => ({ window: 'out-of-sample', p })),
    ];
    expect(rows).toHaveLength(want.length);
    for (const [i, { window, p }] of want.entries()) {
      expect(rows[i]![1]).toBe(window);
      expect(rows[i]![2]).toBe(p.strategy);
      expect(Number(rows[i]![3])).toBe(p.trades);
      expect(Number(rows[i]![4]!.replace(/[^0-9.+-]/g, ''))).toBeCloseTo(p.netPnl, 1);
    }
    expect(requests).toEqual([]);
    await page.close();
  });
});
