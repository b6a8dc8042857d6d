import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, until } from '../../soak/kit.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { startExchangeSimulator, type ExchangeSimulator } from '../../simulator/start-simulator.ts';
import { REPO } from '../kit/cli.ts';
import { completion, startModelServer, type ModelServer, type SeenRequest } from '../agents/kit/model-server.ts';

const TOKEN = 'live-agents-admin-token-0123456789abcdef';
const KEY = { apiKey: 'live-agents-api-key', secretKey: 'live-agents-secret-key' };
/** the model answers 429 to its first requests, then agrees with every proposal */
const FAULTY_REQUESTS = 6;

const children: ChildProcess[] = [];
let simulator: ExchangeSimulator | null = null;
let model: ModelServer | null = null;
const dir = mkdtempSync(join(tmpdir(), 'agents-live-restart-'));
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await simulator?.close();
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface JournalLine {
  type: string;
  time: number;
  data: { symbol?: string; clientOrderId?: string; command?: string; origin?: string };
}

const isProbe = (r: SeenRequest): boolean => (r.body as { max_tokens?: number }).max_tokens === 1;
/** model requests made for decisions (start-up probes left out) */
const decisionAsks = (): number => model!.requests.filter((r) => !isProbe(r)).length;

const readJournal = (path: string): JournalLine[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalLine);

describe('live mode with a remote agent that faulted before kill -9', () => {
  it('restarts from journal and tape without asking the model again, re-sending or doubling an order', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m'), symbols: ['BTCUSDT', 'ETHUSDT'] });
    model = await startModelServer((r) => {
      // the start-up probe (one message, max_tokens 1) is answered and not counted below
      if (isProbe(r)) return { status: 200, body: completion('pong') };
      if (decisionAsks() <= FAULTY_REQUESTS) return { status: 429, body: '{"error":"rate limited"}' };
      const prompt = (r.body as { messages: { content: string }[] }).messages[1]!.content;
      const side = /proposes going long/.test(prompt) ? 'buy' : 'sell';
      const thesis = { thesis: `The tape reads as a ${side} for this bar.`, side, risk_score: 0.5, confidence: 0.9 };
      return { status: 200, body: completion(JSON.stringify(thesis)) };
    });
    simulator = await startExchangeSimulator({
      series,
      replayMs: 0,
      startIndex: 400,
      initialBalance: 10_000,
      credentials: [KEY],
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const journal = join(dir, 'journal.jsonl');
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
          // snapshots with agents: taken only while no model call is pending; the restart is from one
          'JOURNAL_SNAPSHOT_EVERY=10',
          'MOMENTUM_LOOKBACK_BARS=48',
          'MOMENTUM_THRESHOLD=0.3',
          'AGENTS_ENABLED=true',
          `FINGPT_ENDPOINT=${model!.url}`,
          'FINGPT_MODEL=test-model',
          'AGENT_RETRY_ATTEMPTS=0',
          'AGENT_FAILURE_POLICY=fail-open',
          'COLLAB_SYMBOLS=',
          'LOG_LEVEL=silent',
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
    let ticker = setInterval(() => simulator!.advance(1), 40);
    await until(
      'model faults, then answers, then two exchange fills',
      async () =>
        decisionAsks() > FAULTY_REQUESTS + 2 && simulator!.state(KEY.apiKey).fills.length >= 2 ? true : undefined,
      120_000,
    );
    clearInterval(ticker);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const before = readJournal(journal);
    const endOf = new Map<string, number>();
    for (const e of before) if (e.type === 'bar') endOf.set(e.data.symbol!, e.time);
    const journalEnd = Math.max(...endOf.values());
    const asked = decisionAsks();
    const ordersBefore = simulator.state(KEY.apiKey).orders.length;
    // the faults were taped as what they were
    const tape = readFileSync(`${journal}.agents.jsonl`, 'utf8');
    expect(tape).toContain('"fault":"http-429"');

    serve();
    await until('healthz after restart', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 30_000);
    const afterReplay = decisionAsks();
    ticker = setInterval(() => simulator!.advance(1), 100);
    await until(
      'a few live bars after the restart',
      async () => {
        const j = readJournal(journal);
        return j.filter((e) => e.type === 'bar' && e.time > journalEnd).length >= 6 ? true : undefined;
      },
      60_000,
    );
    clearInterval(ticker);
    const health = (await (await fetch(`${base}/healthz`)).json()) as {
      last_error: string | null;
      running: boolean;
    };

    // the replay asked the model nothing: every decision it rebuilt came from the tape
    expect(afterReplay).toBe(asked);
    const after = readJournal(journal).slice(before.length);
    // no bar at or before the journal's end was appended, and no stray warm-up halt without resume
    for (const e of after.filter((x) => x.type === 'bar')) expect(e.time).toBeGreaterThan(endOf.get(e.data.symbol!)!);
    const warmups = after.filter((e) => e.type === 'control' && e.data.origin === 'warm-up');
    expect(warmups.filter((e) => e.data.command === 'halt').length).toBe(
      warmups.filter((e) => e.data.command === 'resume').length,
    );
    // nothing was sent for a bar the previous run had already passed
    for (const o of after.filter((e) => e.type === 'order')) expect(o.time).toBeGreaterThan(endOf.get(o.data.symbol!)!);
    const exchange = simulator.state(KEY.apiKey);
    const ids = exchange.orders.map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(
      exchange.orders.slice(ordersBefore).every((o) => !ids.slice(0, ordersBefore).includes(o.clientOrderId)),
    ).toBe(true);
    expect(health.last_error ?? '').not.toMatch(/INVARIANT|stopped/);
  }, 240_000);
});
