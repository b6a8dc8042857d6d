import { Redis } from 'ioredis';

/** The telemetry streams of SPEC §5, read by the dashboard and by any consumer group. */
export const STREAM_NAMES = ['decisions', 'positions', 'reasoning'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

/** One stream entry: flat string fields (nested data already JSON-encoded). */
export type StreamFields = Record<string, string>;
export interface StreamEntry {
  id: string;
  fields: StreamFields;
}

export interface StreamStoreStatus {
  backend: 'redis' | 'memory';
  healthy: boolean;
  /** entries waiting for Redis to come back */
  pending: number;
  failures: number;
  lastError: string | null;
}

/**
 * Where telemetry goes. `append` never blocks and never throws: trading must not wait on it.
 * `read` returns the newest entries, newest last.
 */
export interface StreamStore {
  append(stream: StreamName, fields: StreamFields): void;
  read(stream: StreamName, limit: number): Promise<StreamEntry[]>;
  status(): StreamStoreStatus;
  close(): Promise<void>;
}

/** The in-process store used when no REDIS_URL is set: a ring buffer per stream. */
export class RingBufferStreams implements StreamStore {
  private readonly rings = new Map<StreamName, StreamEntry[]>();
  private sequence = 0;
  constructor(private readonly maxLen: number) {}

  append(stream: StreamName, fields: StreamFields): void {
    let ring = this.rings.get(stream);
    if (!ring) this.rings.set(stream, (ring = []));
    ring.push({ id: `${++this.sequence}-0`, fields });
    // trim in chunks, like Redis's approximate MAXLEN ~, so appends stay O(1) amortised
    if (ring.length > this.maxLen + 64) ring.splice(0, ring.length - this.maxLen);
  }

  async read(stream: StreamName, limit: number): Promise<StreamEntry[]> {
    const ring = this.rings.get(stream) ?? [];
    return ring.slice(-limit);
  }

  status(): StreamStoreStatus {
    return { backend: 'memory', healthy: true, pending: 0, failures: 0, lastError: null };
  }

  async close(): Promise<void> {}
}

export interface RedisStreamsOptions {
  url: string;
  maxLen: number;
  /** stream key prefix: `trader:` gives trader:decisions … */
  prefix?: string;
  /** entries kept in memory while Redis is down (oldest dropped beyond it, counted) */
  backlogLimit?: number;
  onFailure?: (error: Error) => void;
}

/**
 * Redis Streams with an outage buffer. Entries are written in order by one pump; when Redis
 * fails, entries wait in memory (bounded) and the pump retries, so telemetry catches up when
 * Redis returns while trading never waits. Reads come from Redis, or from the buffer + a local
 * mirror while Redis is down, so the dashboard keeps working through an outage.
 */
export class RedisStreams implements StreamStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly backlog: { stream: StreamName; fields: StreamFields }[] = [];
  private readonly mirror: RingBufferStreams;
  private readonly backlogLimit: number;
  private pumping = false;
  private healthy = true;
  private failures = 0;
  private dropped = 0;
  private lastError: string | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RedisStreamsOptions) {
    this.prefix = options.prefix ?? 'trader:';
    this.backlogLimit = options.backlogLimit ?? 100_000;
    this.mirror = new RingBufferStreams(Math.min(options.maxLen, 2000));
    this.redis = new Redis(options.url, {
      lazyConnect: false,
      // fail commands fast while disconnected: the backlog holds them, not ioredis's queue
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.redis.on('error', (error: Error) => this.markFailure(error));
    this.redis.on('ready', () => {
      this.healthy = true;
      this.schedulePump(0);
    });
  }

  private markFailure(error: Error): void {
    this.failures++;
    this.healthy = false;
    // connection errors can carry the URL (and a password in it): keep only the kind
    this.lastError = error.name === 'Error' ? sanitize(error.message) : error.name;
    this.options.onFailure?.(error);
  }

  append(stream: StreamName, fields: StreamFields): void {
    if (this.closed) return;
    this.mirror.append(stream, fields);
    this.backlog.push({ stream, fields });
    if (this.backlog.length > this.backlogLimit) {
      this.backlog.shift();
      this.dropped++;
    }
    this.schedulePump(0);
  }

  private schedulePump(delayMs: number): void {
    if (this.pumping || this.closed) return;
    if (delayMs === 0) {
      this.pumping = true;
      queueMicrotask(() => void this.pump());
      return;
    }
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedulePump(0);
    }, delayMs);
    this.retryTimer.unref();
  }

  private async pump(): Promise<void> {
    try {
      while (this.backlog.length > 0 && !this.closed) {
        const batch = this.backlog.slice(0, 256);
        const pipeline = this.redis.pipeline();
        for (const { stream, fields } of batch) {
          pipeline.xadd(
            this.prefix + stream,
            'MAXLEN',
            '~',
            String(this.options.maxLen),
            '*',
            ...Object.entries(fields).flat(),
          );
        }
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error !== null);
        if (!results || failed) throw failed?.[0] ?? new Error('redis pipeline returned nothing');
        this.backlog.splice(0, batch.length);
        this.healthy = true;
      }
      this.pumping = false;
    } catch (error) {
      this.pumping = false;
      this.markFailure(error as Error);
      this.schedulePump(500);
    }
  }

  async read(stream: StreamName, limit: number): Promise<StreamEntry[]> {
    if (!this.healthy || this.redis.status !== 'ready') return this.mirror.read(stream, limit);
    try {
      const raw = await this.redis.xrevrange(this.prefix + stream, '+', '-', 'COUNT', limit);
      return raw.reverse().map(([id, flat]) => {
        const fields: StreamFields = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
        return { id, fields };
      });
    } catch (error) {
      this.markFailure(error as Error);
      return this.mirror.read(stream, limit);
    }
  }

  status(): StreamStoreStatus {
    return {
      backend: 'redis',
      healthy: this.healthy && this.redis.status === 'ready',
      pending: this.backlog.length,
      failures: this.failures,
      lastError:
        this.lastError === null
          ? null
          : this.dropped > 0
            ? `${this.lastError}; ${this.dropped} dropped`
            : this.lastError,
    };
  }

  /** Waits (bounded) until the backlog is written, e.g. before shutdown or in tests. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.backlog.length > 0 && performance.now() < deadline) {
      this.schedulePump(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.backlog.length === 0;
  }

  async close(): Promise<void> {
    await this.flush(1000);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.redis.disconnect();
  }
}

/** Strips anything URL-like (which may carry credentials) from an error message. */
export function sanitize(message: string): string {
  return message.replace(/[a-z]+:\/\/\S+/gi, '[url]');
}
