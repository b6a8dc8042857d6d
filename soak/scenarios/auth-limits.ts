import { startService, type RunningService } from '../../live/service/service.ts';
import { tokensEqual } from '../../live/service/admin-auth.ts';
import { serviceSettings } from './service-runs.ts';
import { fmt, percentile, type SoakRow } from '../kit.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const ADMIN_ROUTES = ['/start', '/stop', '/emergency_stop', '/inference/decisions', '/inference/chat'];
const TOKEN = 'soak-auth-token-0123456789abcdef';

/** Median ns per call of `fn` over `n` interleaved rounds. */
function medianNs(n: number, fns: (() => void)[]): number[] {
  const samples = fns.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < fns.length; k++) {
      const t = process.hrtime.bigint();
      fns[k]!();
      samples[k]!.push(Number(process.hrtime.bigint() - t));
    }
  }
  return samples.map((s) => percentile(s, 50)!);
}

/** Every admin route without a token, with a wrong one, and with the token in the query string. */
async function adminAuthRow(service: RunningService): Promise<SoakRow> {
  // inject: failed logins count against the failure limit, so few of them
  const wrong: string[] = [];
  let checks = 0;
  for (const route of ADMIN_ROUTES) {
    const cases: [Record<string, string>, string, number][] = [
      [{}, '', 401],
      [{ authorization: 'Bearer not-the-token' }, '', 403],
      [{ 'x-admin-token': `${TOKEN}x` }, '', 403],
      [{ authorization: `Bearer ${TOKEN}` }, `?token=${TOKEN}`, 400],
      [{}, `?admin_token=${TOKEN}`, 400],
    ];
    for (const [headers, query, want] of cases) {
      const r = await service.app.inject({ method: 'POST', url: route + query, headers, payload: {} });
      checks++;
      if (r.statusCode !== want)
        wrong.push(
          `${route}${query ? ' +query' : ''} ${JSON.stringify(Object.keys(headers))}: ${r.statusCode} ≠ ${want}`,
        );
    }
  }
  return {
    scenario: '6 auth and limits',
    injected: 'admin routes: no token, wrong token, token in query string',
    count: checks,
    held: wrong.length === 0,
    figures: wrong.length === 0 ? `all ${checks} answered 401/403/400 as required` : wrong.slice(0, 5).join('; '),
  };
}

/** Timing of the token compare: wrong-length vs right-length guesses. */
function compareTimingRow(timingRounds: number): SoakRow {
  const shortGuess = 'x';
  const longGuess = 'y'.repeat(4096);
  const sameLength = `${TOKEN.slice(0, -1)}z`;
  const prefixRight = `${TOKEN.slice(0, -1)}!`;
  const [tShort, tLong, tSame, tPrefix] = medianNs(timingRounds, [
    () => tokensEqual(shortGuess, TOKEN),
    () => tokensEqual(longGuess, TOKEN),
    () => tokensEqual(sameLength, TOKEN),
    () => tokensEqual(prefixRight, TOKEN),
  ]);
  const ratio = tSame! / tShort!;
  return {
    scenario: '6 auth and limits',
    injected: `token compare timing, ${timingRounds} rounds each (median)`,
    count: timingRounds * 4,
    // loose bound: hashing first makes the compare length-independent; noise on a shared box is large
    held: ratio > 0.33 && ratio < 3,
    figures: `1-char guess ${tShort} ns, 4096-char ${tLong} ns, right-length wrong ${tSame} ns, all-but-last-right ${tPrefix} ns; right/wrong-length ratio ${fmt(ratio)}`,
  };
}

/** A burst over real HTTP: the limit holds, the public health check stays up. */
async function burstRow(base: string, burst: number, limit: number): Promise<SoakRow> {
  const statuses = await Promise.all(
    Array.from({ length: burst }, () =>
      fetch(`${base}/stop`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })
        .then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        })
        .catch(() => 0),
    ),
  );
  const limited = statuses.filter((s) => s === 429).length;
  const errors = statuses.filter((s) => s === 0 || s >= 500).length;
  const health = await fetch(`${base}/healthz`);
  return {
    scenario: '6 auth and limits',
    injected: `burst of ${burst} concurrent POST /stop (limit ${limit}/min/IP)`,
    count: burst,
    held: limited >= burst - limit && errors === 0 && health.status === 200,
    figures: `${limited} × 429, ${statuses.filter((s) => s === 403).length} × 403, ${errors} errors/5xx; /healthz after the burst ${health.status}`,
  };
}

/** CORS: unknown origins get no allow-origin, the configured one does. */
async function corsRow(base: string): Promise<SoakRow> {
  const preflight = async (origin: string) => {
    const r = await fetch(`${base}/dashboard`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET' },
    });
    await r.arrayBuffer();
    return r.headers.get('access-control-allow-origin');
  };
  const simple = async (origin: string) => {
    const r = await fetch(`${base}/healthz`, { headers: { origin } });
    await r.arrayBuffer();
    return r.headers.get('access-control-allow-origin');
  };
  const evil = [await preflight('https://evil.example'), await simple('https://evil.example'), await simple('null')];
  const good = await preflight('https://ops.example.com');
  return {
    scenario: '6 auth and limits',
    injected: 'CORS: preflight and simple requests from unknown origins',
    count: evil.length + 1,
    held: evil.every((h) => h === null || h === undefined) && good === 'https://ops.example.com',
    figures: `unknown origins allow-origin ${JSON.stringify(evil)}; allowlisted origin ${JSON.stringify(good)}`,
  };
}

/**
 * Scenario 6: admin routes without / with a wrong token / with the token in the query string,
 * the timing of the token compare, a burst of `burst` requests against the rate limit, CORS.
 */
export async function authLimitsScenario(opts: { burst: number; timingRounds: number }): Promise<SoakRow[]> {
  const limit = 60;
  const service = await startService(
    serviceSettings({
      ADMIN_API_TOKEN: TOKEN,
      RATE_LIMIT_PER_MINUTE: limit,
      // the burst below is all failed logins: they are limited by their own per-address bucket
      ADMIN_AUTH_FAILURES_PER_MINUTE: limit,
      CORS_ORIGINS: 'https://ops.example.com',
      SIMULATOR_REPLAY_MS: 1000,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, logger: false },
  );
  const rows: SoakRow[] = [];
  try {
    // the burst comes after the auth checks: its failed logins lock the address out
    rows.push(await adminAuthRow(service));
    rows.push(compareTimingRow(opts.timingRounds));
    rows.push(await burstRow(service.url, opts.burst, limit));
    rows.push(await corsRow(service.url));
  } finally {
    await service.close();
  }
  return rows;
}
