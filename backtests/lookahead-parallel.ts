import { fileStrategyValues } from '../strategies/registry.ts';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BarColumns, FundingRate } from '../pipelines/model/index.ts';
import type { Settings } from '../pipelines/settings.ts';
import { SapphireError, type ErrorCode } from '../pipelines/errors.ts';
import { backtestAgentStage } from '../agents/build-agents.ts';
import {
  checkLookahead,
  shareCuts,
  type CutOutcome,
  type LookaheadReport,
  type LookaheadWorkerInit,
  type LookaheadWorkerReply,
} from './lookahead-check.ts';

const WORKER_URL = new URL('./lookahead-worker.ts', import.meta.url);

/** Worker threads do not inherit tsx's loader: each boots by registering it, then imports the entry. */
function tsxApi(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
  }
}

export interface ParallelLookaheadOptions {
  settings: Settings;
  series: readonly BarColumns[];
  fundingRates?: readonly FundingRate[];
  cuts: readonly number[];
  /** threads (default: the machine's cores, at most the cuts); 1 = in this thread */
  workers?: number;
  /** stop at the first cut that differs (default true) */
  stopAtFirst?: boolean;
}

function runShare(init: LookaheadWorkerInit): Promise<LookaheadWorkerReply> {
  const boot = `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(boot, { eval: true, workerData: init });
    let settled = false;
    type Reply = { ok: true; reply: LookaheadWorkerReply } | { ok: false; code: ErrorCode | null; error: string };
    worker.once('message', (msg: Reply) => {
      settled = true;
      void worker.terminate();
      if (msg.ok) resolve(msg.reply);
      else reject(msg.code !== null ? new SapphireError(msg.code, msg.error) : new Error(msg.error));
    });
    worker.once('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`a look-ahead check worker exited with code ${code}`));
    });
  });
}

/**
 * The look-ahead check with the cuts shared out over worker threads: each thread makes its own
 * full run (the same, deterministic) and checks its share; the report is the one checkLookahead
 * gives, up to the first differing cut. Agents come from the settings (planted test stages need
 * checkLookahead in this thread).
 */
export async function checkLookaheadParallel(o: ParallelLookaheadOptions): Promise<LookaheadReport> {
  const workers = Math.max(1, Math.min(o.workers ?? availableParallelism(), o.cuts.length));
  if (workers === 1) {
    return checkLookahead({ ...o, agents: backtestAgentStage(o.settings) });
  }
  const t0 = performance.now();
  const shares = shareCuts(o.series, o.cuts, workers);
  const replies = await Promise.all(
    shares.map((cuts, k) =>
      runShare({
        settings: o.settings,
        series: o.series.map((c) => ({ ...c })),
        fundingRates: o.fundingRates,
        cuts,
        lateStamps: k === 0,
        stopAtFirst: o.stopAtFirst !== false,
        strategyValues: { ...fileStrategyValues() },
      }),
    ),
  );
  const late = replies[0]!.late;
  const all: CutOutcome[] = replies.flatMap((r) => r.outcomes).sort((a, b) => a.cut - b.cut);
  // each share stops at its own first difference: keep everything up to the earliest one
  const first = all.findIndex((x) => x.difference !== null);
  const stop = o.stopAtFirst !== false;
  const outcomes = !stop ? all : late !== null ? [] : first === -1 ? all : all.slice(0, first + 1);
  return {
    outcomes,
    late,
    passed: late === null && first === -1,
    fullMs: Math.max(...replies.map((r) => r.fullMs)),
    totalMs: performance.now() - t0,
  };
}
