import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, until } from '../../soak/kit.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { REPO } from '../kit/cli.ts';

const TOKEN = 'live-e2e-admin-41-0f9c2b7d6e5a4f38';
const KEY = { apiKey: 'live-e2e-api-key', secretKey: 'live-e2e-secret-key' };
const children: ChildProcess[] = [];
let simulator: ExchangeSimulator | null = null;
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await simulator?.close();
});

interface View {
  positions: { symbol: string; side: string; quantity: number }[];
  system: { running: boolean };
}

describe('live mode against the exchange simulator (real REST orders, user-data fills)', () => {
  it('trades, is killed with -9, restarts from its journal and agrees with the exchange, no order sent twice', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT', 'ETHUSDT'] });
    simulator = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-live-')), 'journal.jsonl');
    const serve = () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          import.meta.resolve('tsx'),
          `${REPO}bin/sapphire.ts`,
          'serve',
          `PORT=${port}`,
          'TRADING_MODE=live',
          'ENABLE_PAPER_TRADING=false',
          `ASTER_REST_URL=${simulator!.restUrl}`,
          `ASTER_WS_URL=${simulator!.wsUrl}`,
          'SYMBOLS=BTCUSDT,ETHUSDT',
          `JOURNAL_PATH=${journal}`,
          // the restart is from a snapshot, with a short tail replayed after it
          'JOURNAL_SNAPSHOT_EVERY=10',
          'MOMENTUM_LOOKBACK_BARS=48',
          'MOMENTUM_THRESHOLD=0.3',
          'LOG_LEVEL=silent',
          // the scenario counts momentum's own orders: serve's embedded agents would gate them
          'AGENTS_ENABLED=false',
        ],
        {
          cwd: REPO,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            ADMIN_API_TOKEN: TOKEN,
            ASTER_API_KEY: KEY.apiKey,
            ASTER_SECRET_KEY: KEY.secretKey,
          },
          stdio: 'pipe',
        },
      );
      children.push(child);
      return child;
    };
    const first = serve();
    await until('healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 30_000);
    // the test drives the exchange's market clock, so it can hold it still to compare books
    const ticker = setInterval(() => simulator!.advance(1), 40);
    await until(
      'two exchange fills',
      async () => (simulator!.state(KEY.apiKey).fills.length >= 2 ? true : undefined),
      90_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    clearInterval(ticker);
    // the market goes on while the service is down: its stops may fire unseen
    for (let i = 0; i < 40; i++) simulator.advance(1);

    serve();
    await until('healthz after restart', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 30_000);
    // then bar by bar, each one seen by the restarted service before the next (or it halted itself)
    const health = async () =>
      (await (await fetch(`${base}/healthz`)).json()) as {
        last_error: string | null;
        running: boolean;
        last_bar_time: string | null;
      };
    for (let i = 0; i < 15; i++) {
      const before = (await health()).last_bar_time;
      simulator.advance(1);
      await until(
        `the restarted service to take bar ${i + 1}`,
        async () => {
          const h = await health();
          return h.last_bar_time !== before || h.last_error !== null ? true : undefined;
        },
        30_000,
        20,
      );
    }
    const books = async () => {
      const view = (await (await fetch(`${base}/dashboard`)).json()) as View;
      const exchange = simulator!.state(KEY.apiKey);
      return {
        ...(await health()),
        exchange,
        theirs: exchange.positions.filter((p) => p.amount !== 0).map((p) => [p.symbol, p.amount]),
        ours: view.positions.map((p) => [p.symbol, p.side === 'LONG' ? p.quantity : -p.quantity]),
      };
    };
    // an order sent on the last bar may still be on its way back over the user stream
    const { last_error, running, exchange, theirs, ours } = await until(
      'the books to agree or the service to halt',
      async () => {
        const b = await books();
        const agree = JSON.stringify([...b.ours].sort()) === JSON.stringify([...b.theirs].sort());
        return agree || b.last_error !== null ? b : undefined;
      },
      15_000,
      50,
    );
    // restart safety: the rebuilt book agrees with the exchange, or the service saw that it does
    // not and halted itself — it never trades on a book it knows to be wrong
    if (last_error === null) {
      expect(ours.sort()).toEqual(theirs.sort());
    } else {
      expect(last_error).toMatch(/^reconciliation: /);
      expect(running).toBe(false);
    }
    const ids = exchange.orders.map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.startsWith('sapphire-'))).toBe(true);
  }, 180_000);
});
