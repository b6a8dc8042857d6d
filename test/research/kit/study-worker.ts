/**
 * A study worker process for the shared-study tests: joins a study (redis://… or a journal file
 * path) and minimises Branin.
 *   node --import tsx study-worker.ts STORAGE STUDY TRIALS WORKER_ID LEASE_MS [hang]
 * Prints READY, waits for a line on stdin, then runs; prints DONE <json of its finished trial numbers>.
 * With `hang`, it reserves one trial, prints RESERVED <n> and never finishes it (the test kills it).
 */
import { createInterface } from 'node:readline';
import { openStorage } from '../../../research/storage/index.ts';
import { runStudy } from '../../../research/study.ts';
import { TpeSampler } from '../../../research/samplers/tpe.ts';
import { branin, BRANIN_SPACE } from '../../../research/test-functions.ts';

const [url, study, trials, workerId, leaseMs, mode] = process.argv.slice(2);
const storage = await openStorage(url!);
console.log('READY');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
lines.close();

const mine: number[] = [];
const trialsDone = await runStudy({
  storage,
  study: study!,
  space: BRANIN_SPACE,
  objective: 'branin',
  sampler: new TpeSampler({ nStartupTrials: 5 }),
  trials: Number(trials),
  concurrency: 2,
  seed: 1,
  workerId: workerId!,
  leaseMs: Number(leaseMs),
  pollMs: 25,
  evaluate: async (params, trial) => {
    if (mode === 'hang') {
      console.log(`RESERVED ${trial.number}`);
      return new Promise(() => undefined); // never settles; heartbeats go on until the kill
    }
    await new Promise((r) => setTimeout(r, 40));
    mine.push(trial.number);
    return { value: -branin(params) };
  },
});
console.log(`DONE ${JSON.stringify({ mine, total: trialsDone.length })}`);
await storage.close();
