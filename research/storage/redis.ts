import { Redis } from 'ioredis';
import { SapphireError } from '../../pipelines/errors.ts';
import type { Params } from '../samplers/types.ts';
import { sameParamNames, type StudyMeta, type StudyStorage, type TrialRecord, type TrialResult } from './types.ts';
import { redactUrl as redactUrlText } from '../../secrets/redact.ts';

/**
 * Keys of one study share a hash tag so every script touches one slot:
 *   {sapphire:study:NAME}:meta     JSON of StudyMeta
 *   …:next                        counter of trial numbers
 *   …:params / state / owner / beat / attempts / result   hashes keyed by trial number
 * Parameters and results are stored as the client's JSON strings (Lua never re-encodes numbers).
 * Times are the Redis server's clock, so workers on many hosts agree on what is stale.
 */
const SCRIPT_RESERVE = `
local max = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[2]) >= max then return -1 end
local n = redis.call('INCR', KEYS[1]) - 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], n, ARGV[2])
redis.call('HSET', KEYS[3], n, 'running')
redis.call('HSET', KEYS[4], n, ARGV[3])
redis.call('HSET', KEYS[5], n, now)
redis.call('HSET', KEYS[6], n, 1)
return n`;

const SCRIPT_CLAIM = `
local lease = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local states = redis.call('HGETALL', KEYS[1])
local pick = nil
for i = 1, #states, 2 do
  if states[i + 1] == 'running' then
    local n = tonumber(states[i])
    local beat = tonumber(redis.call('HGET', KEYS[3], states[i]) or '0')
    if now - beat > lease and (pick == nil or n < pick) then pick = n end
  end
end
if pick == nil then return -1 end
redis.call('HSET', KEYS[2], pick, ARGV[1])
redis.call('HSET', KEYS[3], pick, now)
redis.call('HINCRBY', KEYS[4], pick, 1)
return pick`;

const SCRIPT_BEAT = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'running' or redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[3], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1`;

const SCRIPT_FINISH = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'running' or redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1`;

/** A Redis URL with any password hidden, for messages (the one rule: secrets/redact.ts). */
export function redactUrl(url: string): string {
  return redactUrlText(url);
}

export class RedisStorage implements StudyStorage {
  readonly description: string;
  private constructor(
    private readonly redis: Redis,
    url: string,
    private readonly prefix: string,
  ) {
    this.description = `redis ${redactUrl(url)}`;
  }

  /** Connects (fails fast with STUDY_STORAGE when the server does not answer). */
  static async connect(
    url: string,
    options: { prefix?: string; connectTimeoutMs?: number } = {},
  ): Promise<RedisStorage> {
    const shown = redactUrl(url);
    let redis: Redis;
    try {
      redis = new Redis(url, {
        lazyConnect: true,
        connectTimeout: options.connectTimeoutMs ?? 3000,
        maxRetriesPerRequest: 2,
        retryStrategy: () => null,
        enableOfflineQueue: false,
      });
    } catch (error) {
      throw new SapphireError('STUDY_STORAGE', `${shown}: ${(error as Error).message}`);
    }
    redis.on('error', () => {
      /* surfaced by the failing command */
    });
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new SapphireError('STUDY_STORAGE', `${shown} does not answer (${(error as Error).message})`);
    }
    return new RedisStorage(redis, url, options.prefix ?? 'sapphire:study:');
  }

  private keys(study: string) {
    const base = `{${this.prefix}${study}}`;
    return {
      meta: `${base}:meta`,
      next: `${base}:next`,
      params: `${base}:params`,
      state: `${base}:state`,
      owner: `${base}:owner`,
      beat: `${base}:beat`,
      attempts: `${base}:attempts`,
      result: `${base}:result`,
    };
  }

  /** Every key of a study (tests clean up with this). */
  async deleteStudy(study: string): Promise<void> {
    await this.redis.del(...Object.values(this.keys(study)));
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new SapphireError('STUDY_STORAGE', `${this.description}: ${what} failed (${(error as Error).message})`);
    }
  }

  async openStudy(meta: StudyMeta): Promise<StudyMeta> {
    const k = this.keys(meta.name);
    return this.call('open study', async () => {
      await this.redis.set(k.meta, JSON.stringify(meta), 'NX');
      const stored = JSON.parse((await this.redis.get(k.meta))!) as StudyMeta;
      if (!sameParamNames(stored.space, meta.space) || stored.objective !== meta.objective) {
        throw new Error(
          `study ${meta.name} tunes ${Object.keys(stored.space).join(',')} for ${stored.objective}; ` +
            `asked for ${Object.keys(meta.space).join(',')} for ${meta.objective} (use another --study name)`,
        );
      }
      return stored;
    });
  }

  async trials(study: string): Promise<TrialRecord[]> {
    const k = this.keys(study);
    const res = await this.call('read trials', () =>
      this.redis
        .multi()
        .hgetall(k.params)
        .hgetall(k.state)
        .hgetall(k.owner)
        .hgetall(k.beat)
        .hgetall(k.attempts)
        .hgetall(k.result)
        .exec(),
    );
    const [params, state, owner, beat, attempts, result] = (res ?? []).map(
      ([, v]) => (v ?? {}) as Record<string, string>,
    );
    const out: TrialRecord[] = [];
    for (const [n, p] of Object.entries(params ?? {})) {
      const st = state?.[n];
      if (!st) continue; // a reserve is one script: state is always present
      const r = result?.[n] ? (JSON.parse(result[n]) as Omit<TrialResult, 'state'>) : {};
      out.push({
        number: Number(n),
        state: st as TrialRecord['state'],
        params: JSON.parse(p) as Params,
        value: r.value,
        attrs: r.attrs,
        worker: owner?.[n] ?? '',
        heartbeatAt: Number(beat?.[n] ?? 0),
        attempts: Number(attempts?.[n] ?? 1),
      });
    }
    return out.sort((a, b) => a.number - b.number);
  }

  async reserve(study: string, params: Params, worker: string, maxTrials: number): Promise<TrialRecord | null> {
    const k = this.keys(study);
    const n = Number(
      await this.call('reserve', () =>
        this.redis.eval(
          SCRIPT_RESERVE,
          6,
          k.next,
          k.params,
          k.state,
          k.owner,
          k.beat,
          k.attempts,
          maxTrials,
          JSON.stringify(params),
          worker,
        ),
      ),
    );
    if (n < 0) return null;
    return { number: n, state: 'running', params, worker, heartbeatAt: 0, attempts: 1 };
  }

  async claimStale(study: string, worker: string, leaseMs: number): Promise<TrialRecord | null> {
    const k = this.keys(study);
    const n = Number(
      await this.call('claim stale', () =>
        this.redis.eval(SCRIPT_CLAIM, 4, k.state, k.owner, k.beat, k.attempts, worker, leaseMs),
      ),
    );
    if (n < 0) return null;
    const [p, a] = await this.call('read claimed', () =>
      Promise.all([this.redis.hget(k.params, String(n)), this.redis.hget(k.attempts, String(n))]),
    );
    return {
      number: n,
      state: 'running',
      params: JSON.parse(p!) as Params,
      worker,
      heartbeatAt: 0,
      attempts: Number(a),
    };
  }

  async heartbeat(study: string, number: number, worker: string): Promise<boolean> {
    const k = this.keys(study);
    const r = await this.call('heartbeat', () =>
      this.redis.eval(SCRIPT_BEAT, 3, k.state, k.owner, k.beat, number, worker),
    );
    return Number(r) === 1;
  }

  async finish(study: string, number: number, worker: string, result: TrialResult): Promise<boolean> {
    const k = this.keys(study);
    const body = JSON.stringify({ value: result.value, attrs: result.attrs });
    const r = await this.call('finish', () =>
      this.redis.eval(SCRIPT_FINISH, 4, k.state, k.owner, k.beat, k.result, number, worker, result.state, body),
    );
    return Number(r) === 1;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
