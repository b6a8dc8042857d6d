import { createRng } from '../pipelines/rng.ts';

/**
 * Fault injection. Faults come two ways:
 * - `inject(kind, opts)`: one-shot, applied to the next request (or socket) it fits — for tests;
 * - a `FaultPlan`: random faults at `ratePerSecond` on average (exponential gaps), kinds drawn from
 *   `kinds`, all from a seeded RNG, so a run with the same seed and the same traffic is reproducible.
 * A fault that fits no request yet stays armed until one comes (a delayed fill waits for an order).
 */
export type FaultKind =
  | 'rate-limit-429'
  | 'ban-418'
  | 'unknown-503'
  | 'timestamp-1021'
  | 'drop-market-ws'
  | 'drop-user-ws'
  | 'delayed-fill'
  | 'partial-fill'
  | 'latency-spike';

export const FAULT_KINDS: readonly FaultKind[] = [
  'rate-limit-429',
  'ban-418',
  'unknown-503',
  'timestamp-1021',
  'drop-market-ws',
  'drop-user-ws',
  'delayed-fill',
  'partial-fill',
  'latency-spike',
];

export interface FaultPlan {
  seed: number;
  /** average number of random faults per second (0 = only injected ones) */
  ratePerSecond: number;
  kinds: readonly FaultKind[];
  /** only requests whose path contains one of these are faulted (default: all) */
  routes?: readonly string[];
}

export interface FaultOptions {
  /** only a request whose path contains this */
  route?: string;
  /** latency-spike / delayed-fill duration (default: drawn, 200–5000 ms / 200–2000 ms) */
  delayMs?: number;
  /** unknown-503 on an order: place it (true), not (false), or let the seeded RNG decide (default) */
  place?: boolean;
  /** 429/418 Retry-After seconds (default 1 / 2) */
  retryAfterS?: number;
  /** partial-fill: fraction filled at once (default 0.5) */
  fraction?: number;
}

export interface ArmedFault {
  kind: FaultKind;
  opts: FaultOptions;
}

export type FaultCounters = Record<FaultKind, number>;

export class FaultInjector {
  private queue: ArmedFault[] = [];
  private plan: FaultPlan | undefined;
  private rng: () => number = createRng(1);
  private nextAt = Infinity;
  readonly counters: FaultCounters = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounters;

  constructor(
    plan: FaultPlan | undefined,
    private readonly now: () => number,
  ) {
    this.setPlan(plan);
  }

  setPlan(plan: FaultPlan | undefined): void {
    this.plan = plan && plan.ratePerSecond > 0 && plan.kinds.length > 0 ? plan : undefined;
    this.rng = createRng(plan?.seed ?? 1);
    this.nextAt = this.plan ? this.now() + this.gap() : Infinity;
  }

  /** a uniform draw from the seeded stream (503 place/not, delays) */
  random(): number {
    return this.rng();
  }

  private gap(): number {
    const rate = this.plan?.ratePerSecond ?? 0;
    return rate > 0 ? (-Math.log(1 - this.rng()) / rate) * 1000 : Infinity;
  }

  inject(kind: FaultKind, opts: FaultOptions = {}): void {
    this.queue.push({ kind, opts });
  }

  /** Arms random faults that are due; returns the socket faults to execute now. */
  poll(): ArmedFault[] {
    if (this.queue.length === 0 && !this.plan) return [];
    const now = this.now();
    while (this.plan && now >= this.nextAt) {
      const kinds = this.plan.kinds;
      const kind = kinds[Math.floor(this.rng() * kinds.length)]!;
      // armed faults wait for a request they fit; keep at most 100 waiting
      if (this.queue.length < 100) this.queue.push({ kind, opts: {} });
      this.nextAt += this.gap();
    }
    const sockets = this.queue.filter((f) => f.kind === 'drop-market-ws' || f.kind === 'drop-user-ws');
    if (sockets.length > 0) this.queue = this.queue.filter((f) => !sockets.includes(f));
    for (const f of sockets) this.counters[f.kind]++;
    return sockets;
  }

  /** Takes the first armed fault of one of `kinds` that fits `path`, counting it. */
  take(path: string, kinds: readonly FaultKind[]): ArmedFault | undefined {
    if (this.queue.length === 0) return undefined;
    const planRoutes = this.plan?.routes;
    for (let i = 0; i < this.queue.length; i++) {
      const f = this.queue[i]!;
      if (!kinds.includes(f.kind)) continue;
      if (f.opts.route !== undefined && !path.includes(f.opts.route)) continue;
      if (f.opts.route === undefined && planRoutes && !planRoutes.some((r) => path.includes(r))) continue;
      this.queue.splice(i, 1);
      this.counters[f.kind]++;
      return f;
    }
    return undefined;
  }

  /** Puts back a fault taken for a request it turned out not to fit. */
  putBack(f: ArmedFault): void {
    this.counters[f.kind]--;
    this.queue.unshift(f);
  }

  pending(): number {
    return this.queue.length;
  }
}
