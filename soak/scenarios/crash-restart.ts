import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../pipelines/rng.ts';
import {
  fmt,
  freePort,
  getJson,
  percentile,
  sleep,
  spawnRedis,
  spawnServe,
  streamEntries,
  tempDir,
  until,
  type ServeProcess,
  type SoakRow,
} from '../kit.ts';

/** Strategy settings that trade often enough on the sample to see fills within seconds. */
export const ACTIVE_STRATEGY: Record<string, string> = {
  MOMENTUM_LOOKBACK_BARS: '48',
  MOMENTUM_THRESHOLD: '0.3',
  VOLATILITY_WINDOW_BARS: '48',
  COOLDOWN_BARS: '3',
  SIZING_MODE: 'fixed',
  NOTIONAL_FRACTION: '0.2',
};

interface Position {
  symbol: string;
  side: string;
  quantity: number;
  entryPrice: number;
}
interface DashboardView {
  positions: Position[];
  prices: { symbol: string; candles: { time: number }[] }[];
  system: { running: boolean };
}

const lastCandle = (v: DashboardView): number => Math.max(0, ...v.prices.map((p) => p.candles.at(-1)?.time ?? 0));
const book = (v: DashboardView): string =>
  JSON.stringify(
    [...v.positions]
      .sort((a, b) => a.symbol.localeCompare(b.symbol))
      .map((p) => [p.symbol, p.side, p.quantity, p.entryPrice]),
  );

/** The newest bar open time the journal holds (what a restart replays up to). */
function journalHead(path: string): number {
  if (!existsSync(path)) return 0;
  let head = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{"type":"bar"')) continue;
    try {
      const e = JSON.parse(line) as { data: { openTime: number } };
      if (e.data.openTime > head) head = e.data.openTime;
    } catch {
      // a torn last line: the service cuts it off on open
    }
  }
  return head;
}

/** What the restarts showed, summed over all lives. */
interface RestartTally {
  exact: number;
  exactMismatches: number;
  advanced: number;
  notRunning: number;
  mismatchNotes: string[];
}

/** Compares a restarted life's first view with the last view of the life that was killed. */
function compareRestart(
  tally: RestartTally,
  life: number,
  head: number,
  snapshot: DashboardView,
  first: DashboardView,
): void {
  const firstHead = lastCandle(first);
  if (lastCandle(snapshot) === head && firstHead === head) {
    // nothing newer than the last view was journaled or received: the book must be identical
    tally.exact++;
    if (book(first) !== book(snapshot)) {
      tally.exactMismatches++;
      tally.mismatchNotes.push(`life ${life}: before ${book(snapshot)} after ${book(first)}`);
    }
  } else {
    tally.advanced++;
  }
  if (!first.system.running) tally.notRunning++;
}

export interface CrashOptions {
  kills: number;
  seed?: number;
  replayMs?: number;
  /** wall time each life trades after it resumed, drawn uniformly in this range (ms) */
  lifeMs?: [number, number];
  log?: (line: string) => void;
}

/**
 * Scenario 2: `sapphire serve` as a process, killed with SIGKILL at random moments and restarted
 * with the same JOURNAL_PATH (and the same Redis, which keeps the telemetry of every life).
 * After each restart: the book equals the one the killed process showed (when the journal had
 * nothing newer than that view), the engine runs without an operator, and new bars are traded.
 * At the end: no client order id was filled twice across all lives.
 */
export async function crashRestartScenario(opts: CrashOptions): Promise<SoakRow[]> {
  const rng = createRng(opts.seed ?? 7);
  const log = opts.log ?? (() => undefined);
  const [lifeMin, lifeMax] = opts.lifeMs ?? [300, 2500];
  const redis = await spawnRedis();
  const port = await freePort();
  const journal = join(tempDir('crash'), 'journal.jsonl');
  const settings = {
    ...ACTIVE_STRATEGY,
    SIMULATOR_REPLAY_MS: String(opts.replayMs ?? 20),
    ADMIN_API_TOKEN: 'soak-crash-token-51c0',
    JOURNAL_PATH: journal,
    REDIS_URL: redis.url,
    REDIS_STREAM_MAXLEN: '1000000',
    LOG_LEVEL: 'silent',
    // the scenario checks momentum's trades across restarts: serve's embedded agents stay off
    AGENTS_ENABLED: 'false',
  };
  let proc: ServeProcess | null = null;
  const tally: RestartTally = { exact: 0, exactMismatches: 0, advanced: 0, notRunning: 0, mismatchNotes: [] };
  let resumed = 0;
  const restartSeconds: number[] = [];
  let failure: string | null = null;
  try {
    let snapshot: DashboardView | null = null;
    for (let life = 0; life <= opts.kills; life++) {
      const head = journalHead(journal);
      const t0 = performance.now();
      proc = spawnServe(port, settings);
      const p = proc;
      const first = await until(
        `life ${life}: dashboard`,
        async () => {
          if (p.child.exitCode !== null) throw new Error(`serve exited ${p.child.exitCode}: ${p.output().slice(-400)}`);
          return getJson<DashboardView>(`${p.base}/dashboard`);
        },
        60_000,
        50,
      );
      restartSeconds.push((performance.now() - t0) / 1000);
      if (snapshot) compareRestart(tally, life, head, snapshot, first);
      // trading resumes by itself: bars newer than the journal arrive and are processed
      await until(
        `life ${life}: bars after ${new Date(head).toISOString()}`,
        async () => (lastCandle(await getJson<DashboardView>(`${p.base}/dashboard`)) > head ? true : undefined),
        180_000,
        100,
      );
      if (life > 0) resumed++;
      if (life === opts.kills) break;
      await sleep(lifeMin + rng() * (lifeMax - lifeMin));
      // half the kills right after a view, half at a random moment later (mid-bar, mid-write)
      snapshot = await getJson<DashboardView>(`${p.base}/dashboard`);
      if (rng() < 0.5) await sleep(rng() * 60);
      await p.kill9();
      log(`  crash-restart: kill ${life + 1}/${opts.kills}`);
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  await proc?.kill9();
  const fills = (await streamEntries(redis.client(), 'trader:positions')).filter((f) => f.type === 'fill');
  await redis.close();
  const ids = fills.map((f) => f.client_order_id ?? '');
  const duplicates = ids.length - new Set(ids).size;
  const kills = resumed;
  const { exact, exactMismatches, advanced, notRunning, mismatchNotes } = tally;
  return [
    {
      scenario: '2 crash/restart',
      injected: 'kill -9 at random moments, restart on the same journal',
      count: kills,
      held: failure === null && kills === opts.kills && exactMismatches === 0 && notRunning === 0,
      figures:
        `resumed ${resumed}/${opts.kills}; book compared exactly ${exact}× (${exactMismatches} mismatches), ` +
        `${advanced}× journal newer than last view; restart to first answer p50 ${fmt(percentile(restartSeconds, 50))} s ` +
        `max ${fmt(percentile(restartSeconds, 100))} s` +
        (failure ? `; FAILED: ${failure}` : '') +
        (mismatchNotes.length ? `; ${mismatchNotes.join(' | ')}` : ''),
    },
    {
      scenario: '2 crash/restart',
      injected: 'fills across all lives (Redis telemetry)',
      count: fills.length,
      held: duplicates === 0 && fills.length > 0,
      figures: `${fills.length} fills, ${new Set(ids).size} distinct client order ids, ${duplicates} doubled`,
    },
  ];
}
