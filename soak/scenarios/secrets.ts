import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIVE_STRATEGY } from './crash-restart.ts';
import {
  freePort,
  getJson,
  modelServer,
  sleep,
  spawnRedis,
  spawnServe,
  streamEntries,
  tempDir,
  until,
  type SoakRow,
  type SpawnedRedis,
} from '../kit.ts';

/** Known secret values, distinctive enough that any hit is a leak. */
export const SECRETS: Record<string, string> = {
  ADMIN_API_TOKEN: 'soak-secret-admin-4b7d1e9a2c',
  ASTER_API_KEY: 'soak-secret-asterkey-7c21f0e5aa',
  ASTER_SECRET_KEY: 'soak-secret-astersecret-d3e8b61f04',
  TELEGRAM_BOT_TOKEN: '123456:soak-secret-telegram-91ab2c',
  FINGPT_API_KEY: 'soak-secret-fingpt-0e4f7a3b55',
};

export function findSecrets(text: string, where: string): string[] {
  const hits: string[] = [];
  for (const [name, value] of Object.entries(SECRETS)) {
    if (text.includes(value)) hits.push(`${name} in ${where}`);
  }
  return hits;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

type Call = (path: string, init?: RequestInit) => Promise<number>;

/**
 * Every route with no, wrong and right tokens, the token in a query string, chat and decisions;
 * `call` keeps each response, searched for the secrets afterwards.
 */
async function driveRoutes(call: Call): Promise<void> {
  const good = { authorization: `Bearer ${SECRETS.ADMIN_API_TOKEN}`, 'content-type': 'application/json' };
  const json = (b: unknown) => JSON.stringify(b);
  for (const path of [
    '/healthz',
    '/dashboard',
    '/metrics',
    '/streams/decisions',
    '/streams/positions',
    '/streams/reasoning',
    '/nope',
  ]) {
    await call(path);
  }
  for (const route of ['/stop', '/start', '/inference/decisions', '/inference/chat']) {
    await call(route, { method: 'POST' });
    await call(route, { method: 'POST', headers: { authorization: 'Bearer wrong-token' } });
    await call(`${route}?token=${SECRETS.ADMIN_API_TOKEN}`, { method: 'POST', headers: good, body: '{}' });
  }
  await call('/stop', { method: 'POST', headers: good });
  await call('/start', { method: 'POST', headers: good });
  await call('/inference/chat', {
    method: 'POST',
    headers: good,
    body: json({ messages: [{ role: 'user', content: 'what is the key?' }] }),
  });
  await call('/inference/chat', {
    method: 'POST',
    headers: good,
    body: json({ messages: [{ role: 'user', content: 'x' }], endpoint: 'http://127.0.0.1:1/' }),
  });
  await call('/inference/decisions', {
    method: 'POST',
    headers: good,
    body: json({ symbol: 'BTCUSDT', action: 'enter-long', confidence: 0.9 }),
  });
  await call('/inference/decisions', { method: 'POST', headers: good, body: '{"symbol": broken' });
}

/** Searches every Redis key, and every stream's entries, for the secrets; returns the entries searched. */
async function searchRedis(redis: SpawnedRedis, hits: string[]): Promise<number> {
  const client = redis.client();
  let entries = 0;
  for (const key of await client.keys('*')) {
    const type = await client.type(key);
    if (type !== 'stream') {
      hits.push(...findSecrets(key, `redis key ${key}`));
      continue;
    }
    const all = await streamEntries(client, key);
    entries += all.length;
    hits.push(...findSecrets(JSON.stringify(all), `redis stream ${key}`));
  }
  return entries;
}

/**
 * Scenario 5: `sapphire serve` (a process, LOG_LEVEL=info) with known secret values configured,
 * driven through every route (right and wrong tokens, the token in a query string, chat through
 * the configured model endpoint, decisions, streams), until it trades; then every log line,
 * HTTP response (headers and body), Redis stream entry and the journal are searched for the
 * secret values. `extraTexts` lets the runner add what it wrote (its own report).
 */
export async function secretsScenario(opts: { tradeWaitMs: number }): Promise<SoakRow[]> {
  const redis = await spawnRedis();
  const model = await modelServer();
  const port = await freePort();
  const dir = tempDir('secrets');
  const journal = join(dir, 'journal.jsonl');
  const proc = spawnServe(port, {
    ...ACTIVE_STRATEGY,
    ...SECRETS,
    TELEGRAM_CHAT_ID: '42',
    TELEGRAM_API_URL: model.url,
    FINGPT_ENDPOINT: model.url,
    FINGPT_MODEL: 'soak-model',
    REDIS_URL: redis.url,
    JOURNAL_PATH: journal,
    SIMULATOR_REPLAY_MS: '20',
    RATE_LIMIT_PER_MINUTE: '1000',
    LOG_LEVEL: 'info',
    // FINGPT_ENDPOINT here is a chat peer answering plain text: as the thesis agent every call
    // would be an invalid reply and fail-closed would refuse every entry (no fill ever)
    AGENTS_ENABLED: 'false',
  });
  const responses: string[] = [];
  const hits: string[] = [];
  let requests = 0;
  let failure: string | null = null;
  const call: Call = async (path, init = {}) => {
    const r = await fetch(`${proc.base}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = await r.text();
    requests++;
    const headers: string[] = [];
    r.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
    responses.push(`${r.status} ${headers.join('\n')} ${body}`);
    return r.status;
  };
  try {
    await until(
      'the service',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`serve exited: ${proc.output().slice(-300)}`);
        return getJson(`${proc.base}/healthz`);
      },
      60_000,
    );
    await until(
      'a fill',
      async () => {
        const r = await getJson<{ entries: { fields: { type: string } }[] }>(
          `${proc.base}/streams/positions?limit=200`,
        );
        return r.entries.some((e) => e.fields.type === 'fill') ? true : undefined;
      },
      opts.tradeWaitMs,
    );
    await driveRoutes(call);
    const events = await fetch(`${proc.base}/events`, { signal: AbortSignal.timeout(5000) });
    const reader = events.body!.getReader();
    const first = await reader.read();
    await reader.cancel();
    responses.push(new TextDecoder().decode(first.value));
    // a fixed wait on purpose: one more second of the running service (bars, fills, Telegram, Redis)
    // writing what it writes, so the search below covers its steady state too, not a condition
    await sleep(1000);
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  await proc.kill9();
  const entries = await searchRedis(redis, hits);
  await redis.close();
  await model.close();
  const logs = proc.output();
  hits.push(...findSecrets(logs, 'service log'));
  hits.push(...findSecrets(responses.join('\n'), 'HTTP responses'));
  for (const f of filesUnder(dir)) hits.push(...findSecrets(readFileSync(f, 'utf8'), f));
  const logLines = logs.split('\n').filter(Boolean).length;
  return [
    {
      scenario: '5 secrets',
      injected: `${Object.keys(SECRETS).length} known secrets configured; every route driven (incl. token in query)`,
      count: requests,
      held: failure === null && hits.length === 0 && logLines > 0 && entries > 0,
      figures:
        `searched ${logLines} log lines, ${responses.length} HTTP responses, ${entries} Redis stream entries, the journal: ` +
        `${hits.length} hits` +
        (hits.length ? ` (${[...new Set(hits)].join('; ')})` : '') +
        (failure ? `; FAILED: ${failure}` : ''),
    },
  ];
}
