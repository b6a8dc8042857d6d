import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { startService } from '../../live/service/service.ts';
import { dashboardPlugin } from '../../dashboard/plugin.ts';
import { serviceSettings } from './service-runs.ts';
import { modelServer, REPO, tempDir, type SoakRow } from '../kit.ts';
import { startExchangeSimulator } from '../../simulator/start-simulator.ts';

const TOKEN = 'soak-fuzz-token-9f8e7d';

const ROUTES = [
  '/healthz',
  '/dashboard',
  '/metrics',
  '/start',
  '/stop',
  '/emergency_stop',
  '/inference/decisions',
  '/inference/chat',
  '/streams/decisions',
  '/streams/positions',
  '/streams/reasoning',
  '/',
  '/assets/app.js',
  '/reports/index.html',
];

const TRICKS = [
  '/../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/reports/../../package.json',
  '/reports/%2e%2e%2f%2e%2e%2fpackage.json',
  '/assets/..%2f..%2f.env',
  '//healthz',
  '/streams/..%2fdecisions',
  '/streams/%00',
  '/streams/' + 'a'.repeat(300),
  '/inference/chat?endpoint=http://169.254.169.254/',
  '/ünïcødé/𝓹𝓪𝓽𝓱',
  '/healthz?' + 'x=1&'.repeat(500),
];

const decisionish = fc.record(
  {
    symbol: fc.oneof(fc.constantFrom('BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'btcusdt', ''), fc.string(), fc.integer()),
    action: fc.oneof(fc.constantFrom('enter-long', 'enter-short', 'exit', 'buy'), fc.string(), fc.boolean()),
    confidence: fc.oneof(fc.double(), fc.string(), fc.constant(null), fc.integer({ min: -5, max: 5 })),
    reason: fc.oneof(fc.string({ maxLength: 800 }), fc.string({ unit: 'binary' }), fc.object()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

const chatish = fc.record(
  {
    messages: fc.oneof(
      fc.array(
        fc.record({
          role: fc.constantFrom('user', 'system', 'assistant', 'tool'),
          content: fc.string({ unit: 'binary' }),
        }),
        { maxLength: 60 },
      ),
      fc.anything(),
    ),
    endpoint: fc.constantFrom('http://127.0.0.1:1/', 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd'),
    max_tokens: fc.oneof(fc.integer(), fc.string()),
    temperature: fc.oneof(fc.double(), fc.constant('hot')),
  },
  { requiredKeys: [] },
);

const bodyArb = fc.oneof(
  fc.constant(undefined),
  decisionish.map((b) => JSON.stringify(b)),
  chatish.map((b) => JSON.stringify(b)),
  fc.json(),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 2000 }),
  fc.constant('{"symbol":'),
  fc.constant('x'.repeat(70 * 1024)),
  fc.constant(JSON.stringify({ messages: [{ role: 'user', content: 'y'.repeat(20_000) }] })),
  fc.constant('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'),
);

const requestArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  path: fc.oneof(
    fc.constantFrom(...ROUTES),
    fc.constantFrom(...ROUTES).chain((r) => fc.string({ maxLength: 40 }).map((s) => r + encodeURIComponent(s))),
    fc.constantFrom(...TRICKS),
    fc
      .constantFrom('/streams/', '/reports/', '/assets/')
      .chain((p) => fc.string({ unit: 'binary', maxLength: 60 }).map((s) => p + encodeURIComponent(s))),
  ),
  query: fc.oneof(
    fc.constant(''),
    fc.constantFrom('?limit=5', '?limit=-1', '?limit=1e9', '?limit=abc', '?limit=5&limit=6', '?token=guess'),
    fc
      .dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 })
      .map((d) => '?' + new URLSearchParams(d).toString()),
  ),
  auth: fc.constantFrom('none', 'good', 'good-x', 'bad', 'empty', 'basic'),
  contentType: fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'none',
    'json-utf16',
  ),
  body: bodyArb,
});

type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function headersOf(r: Req): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.auth === 'good') h.authorization = `Bearer ${TOKEN}`;
  if (r.auth === 'good-x') h['x-admin-token'] = TOKEN;
  if (r.auth === 'bad') h.authorization = 'Bearer ' + 'z'.repeat(64);
  if (r.auth === 'empty') h.authorization = 'Bearer ';
  if (r.auth === 'basic') h.authorization = 'Basic dXNlcjpwYXNz';
  if (r.contentType === 'json-utf16') h['content-type'] = 'application/json; charset=utf-16';
  else if (r.contentType !== 'none') h['content-type'] = r.contentType;
  return h;
}

/**
 * Scenario 4a: property-based fuzzing of every route of the running service (in-process, via
 * inject): `requests` generated requests, none answered 5xx, none crashing the process.
 */
export async function fuzzRoutesScenario(opts: { requests: number; seed?: number }): Promise<SoakRow[]> {
  const model = await modelServer();
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  const service = await startService(
    serviceSettings({
      ADMIN_API_TOKEN: TOKEN,
      RATE_LIMIT_PER_MINUTE: 100_000,
      FINGPT_ENDPOINT: model.url,
      FINGPT_MODEL: 'soak-model',
      SIMULATOR_REPLAY_MS: 50,
    }),
    { embeddedExchange: startExchangeSimulator, port: 0, logger: false, dashboard: dashboardPlugin },
  );
  const byStatus = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  try {
    const requests = fc.sample(requestArb, { numRuns: opts.requests, seed: opts.seed ?? 42 });
    for (const r of requests) {
      // GET /events is a never-ending stream: it is checked over real HTTP below
      if (r.path.startsWith('/events')) continue;
      const method = r.method as 'GET';
      const noBody = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
      let status: number;
      try {
        const res = await service.app.inject({
          method,
          url: r.path + r.query,
          headers: headersOf(r),
          ...(noBody || r.body === undefined ? {} : { payload: r.body }),
        });
        status = res.statusCode;
        if (status >= 500)
          failures.push(`${method} ${(r.path + r.query).slice(0, 80)} → ${status} ${res.body.slice(0, 120)}`);
      } catch (error) {
        // the request could not even be built (an invalid header value): not the server's doing
        status = -1;
        if (!(error instanceof TypeError)) failures.push(`${method} ${r.path}: inject threw ${String(error)}`);
      }
      sent++;
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    }
    const events = await fetch(`${service.url}/events`, { signal: AbortSignal.timeout(3000) });
    const reader = events.body!.getReader();
    const first = await reader.read();
    await reader.cancel();
    const health = await service.app.inject({ method: 'GET', url: '/healthz' });
    const summary = [...byStatus.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s === -1 ? 'client-rejected' : s}×${n}`)
      .join(' ');
    return [
      {
        scenario: '4 hostile input',
        injected:
          'fast-check requests on every route (types, huge bodies, unicode, missing fields, path tricks, SSRF bait)',
        count: sent,
        held:
          failures.length === 0 && unhandled === 0 && health.statusCode === 200 && events.status === 200 && !first.done,
        figures:
          `${summary}; 5xx ${failures.length}; unhandled rejections ${unhandled}; /healthz after ${health.statusCode}; ` +
          `/events ${events.status}; model server called ${model.requests}× (only the configured endpoint exists)` +
          (failures.length ? `; e.g. ${failures.slice(0, 3).join(' | ')}` : ''),
      },
    ];
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await service.close();
    await model.close();
  }
}

function sapphire(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(REPO, 'bin/sapphire.ts'), ...args],
      { cwd, timeout: 120_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/**
 * Scenario 4b: malformed CSV and .env files given to `sapphire backtest`: exit ≠ 0, the message
 * names the file and line (or the variable), and no output folder appears.
 */
export async function malformedFilesScenario(): Promise<SoakRow[]> {
  const fixture = join(REPO, 'test/fixtures/core/BTCUSDT-5m-2025-01-28.csv');
  const real = readFileSync(fixture, 'utf8').split('\n');
  const cases: { name: string; args: (dir: string) => string[]; setup: (dir: string) => void; expect: RegExp[] }[] = [
    {
      name: 'CSV with a non-number price on line 6',
      setup: (dir) => {
        mkdirSync(join(dir, 'data'));
        const lines = [...real];
        lines[5] = lines[5]!.replace(/,([0-9.]+),/, ',12a.5,');
        writeFileSync(join(dir, 'data/BTCUSDT.csv'), lines.join('\n'));
      },
      args: () => ['backtest', '--data', 'data', '--out', 'out/bt'],
      expect: [/BTCUSDT\.csv/, /\b6\b/],
    },
    {
      name: 'CSV with a truncated row on line 12',
      setup: (dir) => {
        mkdirSync(join(dir, 'data'));
        const lines = [...real];
        lines[11] = lines[11]!.split(',').slice(0, 3).join(',');
        writeFileSync(join(dir, 'data/BTCUSDT.csv'), lines.join('\n'));
      },
      args: () => ['backtest', '--data', 'data', '--out', 'out/bt'],
      expect: [/BTCUSDT\.csv/, /\b12\b/],
    },
    {
      name: '.env with a bad value on line 3',
      setup: (dir) => {
        mkdirSync(join(dir, 'data'));
        copyFileSync(fixture, join(dir, 'data/BTCUSDT.csv'));
        writeFileSync(join(dir, '.env'), '# settings\nSYMBOLS=BTCUSDT\nMOMENTUM_THRESHOLD=not-a-number\n');
      },
      args: () => ['backtest', '--data', 'data', '--out', 'out/bt'],
      expect: [/MOMENTUM_THRESHOLD/],
    },
    {
      name: '.env with a line that is not NAME=VALUE (line 2)',
      setup: (dir) => {
        mkdirSync(join(dir, 'data'));
        copyFileSync(fixture, join(dir, 'data/BTCUSDT.csv'));
        writeFileSync(join(dir, '.env'), 'SYMBOLS=BTCUSDT\nthis line is garbage\n');
      },
      args: () => ['backtest', '--data', 'data', '--out', 'out/bt'],
      expect: [/\.env/, /\b2\b/],
    },
  ];
  const notes: string[] = [];
  let held = 0;
  for (const c of cases) {
    const dir = tempDir('malformed');
    c.setup(dir);
    const before = readdirSync(dir).sort().join(',');
    const r = await sapphire(c.args(dir), dir);
    const after = readdirSync(dir).sort().join(',');
    const named = c.expect.every((re) => re.test(r.out));
    const ok = r.code !== 0 && named && before === after && !existsSync(join(dir, 'out'));
    if (ok) held++;
    const firstLine = r.out.split('\n').find((l) => l.trim() !== '') ?? '';
    notes.push(`${c.name}: exit ${r.code}, ${ok ? 'ok' : 'FAILED'} — "${firstLine.slice(0, 140)}"`);
  }
  return [
    {
      scenario: '4 hostile input',
      injected: 'malformed CSV and .env to `sapphire backtest`',
      count: cases.length,
      held: held === cases.length,
      figures: notes.join(' | '),
    },
  ];
}
