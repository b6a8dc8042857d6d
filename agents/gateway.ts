import type { AgentOpinion } from '../pipelines/model/index.ts';
import type { AgentContext, AgentPort, ClockPort, Timers } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { AgentSettings } from '../operators/agents/agents.settings.ts';
import { backoffDelay } from '../pipelines/backoff.ts';
import { realTimers, systemClock } from '../runtime/timers.ts';

/**
 * A remote agent. `call` is one attempt: it asks the model and returns the validated raw reply
 * (a plain JSON value; it must stop when `signal` aborts). `judge` turns a reply into an opinion
 * with the platform's thresholds; it is pure, so a taped reply is judged again at replay and
 * thresholds stay tunable over a tape. `parse` re-validates a reply read back from a tape.
 */
export interface RemoteAgent<R = unknown> {
  readonly name: string;
  call(context: AgentContext, signal: AbortSignal): Promise<R>;
  judge(reply: R, context: AgentContext): AgentOpinion;
  parse(value: unknown): R;
  /** what a tape header records about this agent (model, endpoint host, prompt version …), no secrets */
  readonly identity: Readonly<Record<string, string | number>>;
}

export interface GatewayOptions {
  settings: Pick<
    AgentSettings,
    | 'MAX_PARALLEL_AGENTS'
    | 'AGENT_RETRY_ATTEMPTS'
    | 'LLM_TIMEOUT_SECONDS'
    | 'AGENT_CACHE_TTL_SECONDS'
    | 'AGENT_DECISION_DEADLINE_SECONDS'
  >;
  clock?: ClockPort;
  timers?: Timers;
  /** uniform [0,1) for the backoff jitter */
  random?: () => number;
  /** first backoff in ms (doubles per retry); default 250 */
  backoffBaseMs?: number;
  /** cap of one backoff in ms; default 10 s */
  backoffMaxMs?: number;
}

export interface GatewayStats {
  /** opinion() calls */
  calls: number;
  /** HTTP attempts started */
  attempts: number;
  retries: number;
  cacheHits: number;
  inFlight: number;
  maxInFlight: number;
  /** final failures by `agent:fault` */
  faults: Record<string, number>;
}

interface CacheEntry {
  at: number;
  value: Promise<unknown>;
}

/**
 * The one door to remote agents:
 * - a deadline per call (AGENT_DECISION_DEADLINE_SECONDS, retries and queueing included): when it
 *   passes the call fails with fault `deadline` and its HTTP request is aborted, so a decision
 *   never waits longer;
 * - at most MAX_PARALLEL_AGENTS attempts in flight across all agents (a FIFO queue beyond that;
 *   backoff waits do not hold a slot);
 * - each attempt aborted after LLM_TIMEOUT_SECONDS (fault `timeout`), never beyond the deadline;
 * - AGENT_RETRY_ATTEMPTS retries of retryable failures only (timeouts, 5xx, 429, transport errors
 *   before any status) with exponential backoff and full jitter: delay_k = min(max, base·2^k)·(0.5 +
 *   0.5·u), at least the server's Retry-After; a retry that cannot start before the deadline is
 *   not made (the failure stands); 4xx, oversized and invalid replies fail at once;
 * - replies cached for AGENT_CACHE_TTL_SECONDS keyed by agent + symbol + bar time + proposed
 *   direction; concurrent calls for the same key share one request; failures are not cached;
 * - every final failure is counted in `stats.faults` and rejects with an AgentError, which the
 *   agent stage turns into an AgentFault event.
 * Clock and timers are injected.
 */
export class AgentGateway {
  readonly stats: GatewayStats = {
    calls: 0,
    attempts: 0,
    retries: 0,
    cacheHits: 0,
    inFlight: 0,
    maxInFlight: 0,
    faults: {},
  };
  private readonly cache = new Map<string, CacheEntry>();
  private readonly waiting: (() => void)[] = [];
  private readonly clock: ClockPort;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly base: number;
  private readonly maxBackoff: number;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly deadlineMs: number;

  constructor(private readonly options: GatewayOptions) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.base = options.backoffBaseMs ?? 250;
    this.maxBackoff = options.backoffMaxMs ?? 10_000;
    this.ttlMs = options.settings.AGENT_CACHE_TTL_SECONDS * 1000;
    this.timeoutMs = options.settings.LLM_TIMEOUT_SECONDS * 1000;
    this.deadlineMs = options.settings.AGENT_DECISION_DEADLINE_SECONDS * 1000;
  }

  /** The remote agent as an AgentPort whose calls go through this gateway and are judged. */
  wrap<R>(agent: RemoteAgent<R>): AgentPort {
    return { name: agent.name, opinion: (ctx) => this.call(agent, ctx) };
  }

  /** One judged opinion. */
  async call<R>(agent: RemoteAgent<R>, ctx: AgentContext): Promise<AgentOpinion> {
    return agent.judge(await this.fetch(agent, ctx), ctx);
  }

  /** The validated raw reply of one call, within the deadline. */
  fetch<R>(agent: RemoteAgent<R>, ctx: AgentContext): Promise<R> {
    this.stats.calls++;
    const key = `${agent.name}|${ctx.symbol}|${ctx.time}|${ctx.proposedDirection}|${ctx.strategy}`;
    const now = this.clock.now();
    if (this.ttlMs > 0) {
      const hit = this.cache.get(key);
      if (hit && now - hit.at < this.ttlMs) {
        this.stats.cacheHits++;
        return hit.value as Promise<R>;
      }
      if (this.cache.size >= 4096) this.sweep(now);
    }
    const value = this.withDeadline(agent, ctx).catch((error: unknown) => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
      const e =
        error instanceof AgentError
          ? error
          : new AgentError('error', error instanceof Error ? error.message : String(error), false, { cause: error });
      const fk = `${agent.name}:${e.fault}`;
      this.stats.faults[fk] = (this.stats.faults[fk] ?? 0) + 1;
      throw e;
    });
    if (this.ttlMs > 0) this.cache.set(key, { at: now, value });
    return value;
  }

  private sweep(now: number): void {
    for (const [k, v] of this.cache) if (now - v.at >= this.ttlMs) this.cache.delete(k);
  }

  private withDeadline<R>(agent: RemoteAgent<R>, ctx: AgentContext): Promise<R> {
    const call = new AbortController();
    const endsAt = this.clock.now() + this.deadlineMs;
    let timer: unknown;
    const deadline = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => {
        const e = new AgentError('deadline', `${agent.name} gave no usable reply within ${this.deadlineMs} ms`);
        call.abort(e);
        reject(e);
      }, this.deadlineMs);
    });
    const work = this.withRetries(agent, ctx, call.signal, endsAt);
    // the losing side of the race must not surface as an unhandled rejection
    work.catch(() => undefined);
    return Promise.race([work, deadline]).finally(() => this.timers.clearTimeout(timer));
  }

  private async withRetries<R>(
    agent: RemoteAgent<R>,
    ctx: AgentContext,
    call: AbortSignal,
    endsAt: number,
  ): Promise<R> {
    const retries = this.options.settings.AGENT_RETRY_ATTEMPTS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(agent, ctx, call, endsAt);
      } catch (error) {
        const retryable = error instanceof AgentError && error.retryable;
        if (!retryable || attempt >= retries || call.aborted) throw error;
        const backoff = backoffDelay(attempt, this.base, this.maxBackoff, this.random);
        const delay = Math.max(backoff, error.retryAfterMs ?? 0);
        // a retry that could not start before the deadline would only hold the decision longer
        if (this.clock.now() + delay >= endsAt) throw error;
        this.stats.retries++;
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, delay));
        if (call.aborted) throw error;
      }
    }
  }

  private async acquire(): Promise<void> {
    if (this.stats.inFlight < this.options.settings.MAX_PARALLEL_AGENTS) {
      this.stats.inFlight++;
    } else {
      // the releasing call hands its slot over: inFlight stays the same
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.stats.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.stats.inFlight;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.stats.inFlight--;
  }

  private async attempt<R>(agent: RemoteAgent<R>, ctx: AgentContext, call: AbortSignal, endsAt: number): Promise<R> {
    await this.acquire();
    if (call.aborted) {
      this.release();
      throw call.reason;
    }
    this.stats.attempts++;
    const controller = new AbortController();
    const onCallAbort = (): void => controller.abort(call.reason);
    call.addEventListener('abort', onCallAbort, { once: true });
    const left = endsAt - this.clock.now();
    const cutByDeadline = left < this.timeoutMs;
    const limit = Math.max(1, Math.min(this.timeoutMs, left));
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => {
        const e = cutByDeadline
          ? new AgentError('deadline', `${agent.name} gave no usable reply within ${this.deadlineMs} ms`)
          : new AgentError('timeout', `${agent.name} gave no reply within ${Math.round(limit)} ms`, true);
        controller.abort(e);
        reject(e);
      }, limit);
    });
    try {
      return await Promise.race([agent.call(ctx, controller.signal), timeout]);
    } finally {
      call.removeEventListener('abort', onCallAbort);
      this.timers.clearTimeout(timer);
      this.release();
    }
  }
}
