import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { downloadData } from '../../../live/aster/data-download.ts';
import { loadDataset, loadFundingCsv } from '../../../backtests/data/index.ts';
import type { BarColumns } from '../../../pipelines/model/index.ts';

const BTC = fixtureColumns('BTCUSDT');
const ETH = fixtureColumns('ETHUSDT');
const DAY = Date.parse('2025-01-28T00:00:00Z');
const FROM = '2025-01-28';
const TO = '2025-02-01'; // the fixtures hold 4 days (1152 bars)
const END = Date.parse('2025-02-01T00:00:00Z');

let sim: ExchangeSimulator | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sapphire-dl-'));
  dirs.push(d);
  return d;
}

/** a frozen market with bars [0, released) of both fixtures visible */
async function market(released: number): Promise<ExchangeSimulator> {
  sim = await startExchangeSimulator({
    series: [BTC, ETH],
    replayMs: 0,
    startIndex: released - 1,
    initialBalance: 1000,
  });
  return sim;
}

function expectSameBars(got: BarColumns, src: BarColumns, n: number): void {
  expect(got.length).toBe(n);
  expect(got.intervalMs).toBe(src.intervalMs);
  for (const k of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const)
    expect(Array.from(got[k])).toEqual(Array.from(src[k].subarray(0, n)));
}

const client = (s: ExchangeSimulator) => new AsterRestClient({ baseUrl: s.restUrl });

describe('data download against the exchange simulator', () => {
  it('paginates the window into the backtester layout: read back identical to the source bars', async () => {
    const s = await market(BTC.length);
    const out = tmp();
    const c = client(s);
    const r = await downloadData({
      client: c,
      symbols: ['BTCUSDT', 'ETHUSDT'],
      interval: '5m',
      from: DAY,
      to: END,
      outDir: out,
      pageLimit: 100, // 1152 bars → 12 pages per symbol
    });
    expect(r.bars.map((b) => b.added)).toEqual([BTC.length, ETH.length]);
    expect(r.requests).toBeGreaterThanOrEqual(1 + 2 * 12);
    expect(c.weight).toBeGreaterThan(0); // the client saw the weight header on every page
    const [btc, eth] = await loadDataset({ dir: out, symbols: ['BTCUSDT', 'ETHUSDT'] });
    expectSameBars(btc!, BTC, BTC.length);
    expectSameBars(eth!, ETH, ETH.length);
    expect(readFileSync(join(out, 'BTCUSDT.csv'), 'utf8').split('\n')[0]).toBe('date,open,high,low,close,volume');
  });

  it('a 429 mid-download: the client backs off and the file is still complete and identical', async () => {
    const s = await market(BTC.length);
    const out = tmp();
    const c = client(s);
    // the first page goes through, the second gets 429 with Retry-After 1 s
    let pages = 0;
    const r = await downloadData({
      client: c,
      symbols: ['BTCUSDT'],
      interval: '5m',
      from: DAY,
      to: END,
      outDir: out,
      pageLimit: 500,
      onProgress: () => {
        if (pages++ === 0) s.injectFault('rate-limit-429', { route: 'klines', retryAfterS: 1 });
      },
    });
    expect(c.counters.rateLimited).toBe(1);
    expect(s.state().faults['rate-limit-429']).toBe(1);
    expect(r.bars[0]!.added).toBe(BTC.length);
    const [btc] = await loadDataset({ dir: out });
    expectSameBars(btc!, BTC, BTC.length);
  });

  it('a sub-window: only bars with open time in [from, to)', async () => {
    const s = await market(BTC.length);
    const out = tmp();
    const from = DAY + 100 * 300_000;
    await downloadData({
      client: client(s),
      symbols: ['ETHUSDT'],
      interval: '5m',
      from,
      to: from + 50 * 300_000,
      outDir: out,
    });
    const [eth] = await loadDataset({ dir: out });
    expect(eth!.length).toBe(50);
    expect(eth!.openTime[0]).toBe(ETH.openTime[100]);
    expect(Array.from(eth!.close)).toEqual(Array.from(ETH.close.subarray(100, 150)));
  });

  it('resumes after an interruption (market moved on, torn last line) to the same file as one run', async () => {
    // one uninterrupted run: the reference file
    const s1 = await market(BTC.length);
    const ref = tmp();
    const args = { symbols: ['BTCUSDT'], interval: '5m', from: DAY, to: END } as const;
    await downloadData({ ...args, client: client(s1), outDir: ref });
    const reference = readFileSync(join(ref, 'BTCUSDT.csv'), 'utf8');
    await s1.close();

    // an interrupted run: only 400 bars exist yet, and the last write was torn
    const s2 = await market(400);
    const out = tmp();
    const first = await downloadData({ ...args, client: client(s2), outDir: out, pageLimit: 150 });
    expect(first.bars[0]!.added).toBe(400);
    appendFileSync(join(out, 'BTCUSDT.csv'), '2025-01-28T09:20:00Z,1012');
    s2.advance(BTC.length); // the rest of the day closes
    const second = await downloadData({ ...args, client: client(s2), outDir: out, pageLimit: 150 });
    expect(second.bars[0]).toMatchObject({ kept: 400, added: BTC.length - 400, repaired: true });
    expect(readFileSync(join(out, 'BTCUSDT.csv'), 'utf8')).toBe(reference);

    // a third run has nothing to add and leaves the file alone
    const third = await downloadData({ ...args, client: client(s2), outDir: out });
    expect(third.bars[0]).toMatchObject({ kept: BTC.length, added: 0, repaired: false });
    expect(readFileSync(join(out, 'BTCUSDT.csv'), 'utf8')).toBe(reference);
  });

  it('funding rates: the exchange history for the window, resumable', async () => {
    const s = await market(1);
    s.advance(BTC.length); // the replay passes 08:00, 16:00 and the next 00:00 funding times
    const c = client(s);
    const all = await c.fundingRate({ symbol: 'BTCUSDT' });
    const inWindow = all.filter((r) => r.fundingTime >= DAY && r.fundingTime < END);
    expect(inWindow.length).toBeGreaterThanOrEqual(2);
    const out = tmp();
    const args = { symbols: ['BTCUSDT', 'ETHUSDT'], interval: '5m', from: DAY, to: END } as const;
    const r = await downloadData({ ...args, client: c, outDir: out, funding: true });
    const rows = loadFundingCsv(join(out, 'funding.csv'));
    expect(r.funding!.added).toBe(rows.length);
    expect(rows.filter((x) => x.symbol === 'BTCUSDT')).toEqual(
      inWindow.map((x) => ({ symbol: 'BTCUSDT', fundingTime: x.fundingTime, rate: x.fundingRate })),
    );
    expect(rows.some((x) => x.symbol === 'ETHUSDT')).toBe(true);
    const before = readFileSync(join(out, 'funding.csv'), 'utf8');
    const again = await downloadData({ ...args, client: c, outDir: out, funding: true });
    expect(again.funding!.added).toBe(0);
    expect(readFileSync(join(out, 'funding.csv'), 'utf8')).toBe(before);
  });
});

describe('sapphire data download (CLI process)', () => {
  it('downloads into DIR readable by the backtester, with --dotenv giving ASTER_REST_URL', async () => {
    const s = await market(BTC.length);
    const out = tmp();
    const env = join(out, 'test.env');
    writeFileSync(env, `ASTER_REST_URL=${s.restUrl}\n`);
    const data = join(out, 'bars');
    // spawnSync blocks this process, so the simulator must live elsewhere: use the async CLI runner
    const r = await runCli([
      'data',
      'download',
      '--symbols',
      'BTCUSDT,ETHUSDT',
      '--interval',
      '5m',
      '--from',
      FROM,
      '--to',
      TO,
      '--out',
      data,
      '--funding',
      '--dotenv',
      env,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('BTCUSDT');
    const [btc, eth] = await loadDataset({ dir: data, symbols: ['BTCUSDT', 'ETHUSDT'] });
    expectSameBars(btc!, BTC, BTC.length);
    expectSameBars(eth!, ETH, ETH.length);
    expect(existsSync(join(data, 'funding.csv'))).toBe(true);
  });

  it('bad arguments → exit 2 with the reason', async () => {
    const out = tmp();
    const cases: [string[], RegExp][] = [
      [['data', 'download', '--from', FROM, '--to', TO, '--out', out], /--symbols is required/],
      [['data', 'download', '--symbols', 'BTCUSDT', '--from', 'yesterday', '--to', TO, '--out', out], /not a date/],
      [['data', 'download', '--symbols', 'BTCUSDT', '--from', TO, '--to', FROM, '--out', out], /not before/],
      [
        ['data', 'download', '--symbols', 'BTCUSDT', '--interval', '7m', '--from', FROM, '--to', TO, '--out', out],
        /--interval/,
      ],
      [['data', 'fetch'], /unknown data command/],
      [['data', 'download', '--bogus'], /bogus/],
    ];
    // in parallel (bounded: 7 processes): each CLI start costs ~2 s on a busy machine
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    cases.forEach(([args, why], i) => {
      expect(results[i]!.code, args.join(' ')).toBe(2);
      expect(results[i]!.stderr).toMatch(why);
    });
    // no ASTER_REST_URL anywhere (an empty settings file: a missing one is an error of its own)
    writeFileSync(join(out, 'none.env'), '');
    const noUrl = await runCli([
      'data',
      'download',
      '--symbols',
      'BTCUSDT',
      '--from',
      FROM,
      '--to',
      TO,
      '--out',
      join(out, 'x'),
      '--dotenv',
      join(out, 'none.env'),
    ]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/ASTER_REST_URL is not set/);
    expect(existsSync(join(out, 'x'))).toBe(false);
  });

  it('an exchange error → exit 1, a clear message, and the files already there stay valid', async () => {
    const s = await market(BTC.length);
    const out = tmp();
    const env = join(out, 'test.env');
    writeFileSync(env, `ASTER_REST_URL=${s.restUrl}\n`);
    const data = join(out, 'bars');
    // first: part of the window, then the exchange bans us on klines mid-way through the second run
    let r = await runCli([
      'data',
      'download',
      '--symbols',
      'BTCUSDT',
      '--from',
      FROM,
      '--to',
      '2025-01-29T12:00:00Z',
      '--out',
      data,
      '--dotenv',
      env,
    ]);
    expect(r.code).toBe(0);
    const before = readFileSync(join(data, 'BTCUSDT.csv'), 'utf8');
    s.injectFault('ban-418', { route: 'klines' });
    r = await runCli([
      'data',
      'download',
      '--symbols',
      'BTCUSDT,ETHUSDT',
      '--from',
      FROM,
      '--to',
      TO,
      '--out',
      data,
      '--dotenv',
      env,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/418/);
    expect(readFileSync(join(data, 'BTCUSDT.csv'), 'utf8')).toBe(before);
    expect(existsSync(join(data, 'ETHUSDT.csv'))).toBe(false);
    // and a later run completes the job
    r = await runCli([
      'data',
      'download',
      '--symbols',
      'BTCUSDT,ETHUSDT',
      '--from',
      FROM,
      '--to',
      TO,
      '--out',
      data,
      '--dotenv',
      env,
    ]);
    expect(r.code).toBe(0);
    const [btc] = await loadDataset({ dir: data, symbols: ['BTCUSDT'] });
    expectSameBars(btc!, BTC, BTC.length);
  });
});

/** the CLI as a child process without blocking the event loop (the simulator runs in this process) */
async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const { REPO } = await import('../../kit/cli.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), `${REPO}bin/sapphire.ts`, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
