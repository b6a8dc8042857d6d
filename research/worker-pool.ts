import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SapphireError } from '../pipelines/errors.ts';
import type { Params } from './samplers/types.ts';
import type { Evaluation } from './study.ts';
import type { WorkerInit, WorkerReply, WorkerRequest } from './trial-worker.ts';
import type { TimeWindow } from './walk-forward.ts';

const WORKER_URL = new URL('./trial-worker.ts', import.meta.url);

/**
 * Worker threads do not inherit tsx's loader on Node 20 (`execArgv: ['--import', 'tsx']` alone
 * still fails on `.ts`), so each thread boots from a tiny script that registers tsx's ESM hooks
 * in the thread, then imports the TypeScript entry.
 */
function tsxSpecifier(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
  }
}
const BOOT = `import(${JSON.stringify(tsxSpecifier())}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;

interface Slot {
  worker: Worker;
  busy: boolean;
  pending: Map<number, { resolve: (e: Evaluation) => void; reject: (e: Error) => void }>;
}

/**
 * Worker threads that run backtest trials, one at a time each. A thread that dies fails its
 * trial (the study records it as failed) and is replaced before the next trial.
 */
export class TrialPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: (() => void)[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(private readonly init: WorkerInit) {}

  static async start(size: number, init: WorkerInit): Promise<TrialPool> {
    const pool = new TrialPool(init);
    try {
      await Promise.all(Array.from({ length: Math.max(1, size) }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Promise<Slot> {
    const worker = new Worker(BOOT, { eval: true, workerData: this.init });
    const slot: Slot = { worker, busy: false, pending: new Map() };
    return new Promise<Slot>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: WorkerReply) => {
        if ('ready' in msg) {
          ready = true;
          this.slots.push(slot);
          resolve(slot);
          return;
        }
        const p = slot.pending.get(msg.id);
        if (!p) return;
        slot.pending.delete(msg.id);
        if (msg.ok) p.resolve({ value: msg.value, attrs: msg.attrs });
        else p.reject(new Error(msg.error));
      });
      let gone = false;
      const dead = (why: string) => {
        // 'error' is followed by 'exit': handle the death once
        if (gone) return;
        gone = true;
        if (!ready) {
          reject(new SapphireError('DATA_NOT_FOUND', `trial worker could not start: ${why}`));
          return;
        }
        for (const p of slot.pending.values()) p.reject(new Error(`trial worker died: ${why}`));
        slot.pending.clear();
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        if (!this.closed) {
          this.spawn().then(
            () => this.wake(),
            () => undefined,
          );
        }
      };
      worker.on('error', (e) => dead(e.message));
      worker.on('exit', (code) => dead(`exit code ${code}`));
    });
  }

  private wake(): void {
    this.waiting.shift()?.();
  }

  private async acquire(): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new SapphireError('STUDY_STORAGE', 'trial pool is closed');
      const free = this.slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private send(slot: Slot, msg: WorkerRequest): Promise<Evaluation> {
    return new Promise<Evaluation>((resolve, reject) => {
      slot.pending.set(msg.id, { resolve, reject });
      slot.worker.postMessage(msg);
    });
  }

  async run(params: Params, window?: TimeWindow): Promise<Evaluation> {
    const slot = await this.acquire();
    try {
      return await this.send(slot, { id: this.nextId++, params, window });
    } finally {
      slot.busy = false;
      this.wake();
    }
  }

  /** Tests: makes one worker exit mid-trial. */
  async crashOne(): Promise<Evaluation> {
    const slot = await this.acquire();
    try {
      return await this.send(slot, { id: this.nextId++, crash: true });
    } finally {
      slot.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}
