import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, auth, testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
const servers: Server[] = [];
afterEach(async () => {
  await service?.close();
  service = null;
  for (const s of servers.splice(0)) s.close();
});

async function modelPeer(handler: (body: unknown) => { status: number; body: unknown }) {
  const seen: { url: string; auth: string | undefined; body: unknown }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as unknown;
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      const out = handler(body);
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('GET /healthz', () => {
  it('reports running, mode, paper trading, last error, uptime, redis and exchange', async () => {
    service = await testService();
    const r = await service.app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      running: true,
      mode: 'paper',
      paper_trading: true,
      last_error: null,
      redis: 'in-memory',
      exchange: 'simulated',
    });
    expect(typeof r.json().uptime_s).toBe('number');
  });
});

describe('admin auth', () => {
  it('answers 401 without a token, 403 with a wrong one, and accepts Bearer or X-Admin-Token', async () => {
    service = await testService();
    const none = await service.app.inject({ method: 'POST', url: '/stop' });
    expect(none.statusCode).toBe(401);
    const wrong = await service.app.inject({ method: 'POST', url: '/stop', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(403);
    expect(service.engine.running).toBe(true);
    const bearer = await service.app.inject({ method: 'POST', url: '/stop', headers: auth });
    expect(bearer.statusCode).toBe(200);
    expect(service.engine.running).toBe(false);
    const header = await service.app.inject({ method: 'POST', url: '/start', headers: { 'x-admin-token': ADMIN } });
    expect(header.statusCode).toBe(200);
    expect(service.engine.running).toBe(true);
  });

  it('refuses a token in the query string and never echoes a token', async () => {
    service = await testService();
    const r = await service.app.inject({ method: 'POST', url: `/stop?token=${ADMIN}`, headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.body).not.toContain(ADMIN);
    expect(service.engine.running).toBe(true);
  });

  it('turns admin routes off (503) when no ADMIN_API_TOKEN is configured', async () => {
    service = await testService({ settings: { ADMIN_API_TOKEN: '' } });
    const r = await service.app.inject({ method: 'POST', url: '/stop', headers: { authorization: 'Bearer ' } });
    expect(r.statusCode).toBe(503);
    expect(service.engine.running).toBe(true);
  });
});

describe('POST /stop, /start, /emergency_stop', () => {
  it('stop refuses new entries with an operator-halt denial; start resumes', async () => {
    service = await testService();
    await service.app.inject({ method: 'POST', url: '/stop', headers: auth });
    const before = service.engine.counts.orders;
    await service.feed(300);
    const entriesWhileStopped = service.sent.filter((e) => e.kind === 'order' && !e.reduceOnly).length;
    expect(entriesWhileStopped).toBe(0);
    expect(service.engine.denials.some((d) => d.rule === 'operator-halt')).toBe(true);
    expect(service.engine.counts.orders).toBeGreaterThanOrEqual(before);
    const r = await service.app.inject({ method: 'POST', url: '/start', headers: auth });
    expect(r.json()).toMatchObject({ running: true });
  });

  it('emergency stop flattens every open position with reduce-only market orders and halts', async () => {
    service = await testService();
    let guard = 0;
    while ((service.engine.portfolio?.positions.length ?? 0) === 0 && guard++ < 60) await service.feed(10);
    expect(service.engine.portfolio!.positions.length).toBeGreaterThan(0);
    const r = await service.app.inject({ method: 'POST', url: '/emergency_stop', headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json().flattening).toBeGreaterThan(0);
    const flatten = service.sent.filter((e) => e.kind === 'order' && e.reason === 'halt-flatten');
    expect(flatten.length).toBeGreaterThan(0);
    expect(flatten.every((o) => o.kind === 'order' && o.reduceOnly && o.type === 'MARKET')).toBe(true);
    await service.feed(4);
    expect(service.engine.portfolio!.positions).toEqual([]);
    expect(service.engine.riskState).toBe('HALTED');
    const h = await service.app.inject({ method: 'GET', url: '/healthz' });
    expect(h.json().running).toBe(false);
  });
});

describe('POST /inference/decisions', () => {
  it('names the field of a bad body and refuses unknown symbols', async () => {
    service = await testService();
    const bad = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: auth,
      payload: { symbol: 'BTCUSDT', action: 'enter-long', confidence: 2 },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('body.confidence');
    const unknown = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: auth,
      payload: { symbol: 'DOGEUSDT', action: 'enter-long', confidence: 0.9 },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toContain('body.symbol');
    const extra = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: auth,
      payload: { symbol: 'BTCUSDT', action: 'enter-long', confidence: 0.9, size: 1000 },
    });
    expect(extra.statusCode).toBe(400);
  });

  it('sends an external decision through allocation, sizing and risk to an order, then a position', async () => {
    service = await testService({ settings: { MOMENTUM_THRESHOLD: 50 } });
    await service.feed(2);
    const r = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: auth,
      payload: { symbol: 'ETHUSDT', action: 'enter-short', confidence: 0.8, reason: 'desk view' },
    });
    expect(r.statusCode).toBe(202);
    const kinds = (r.json().stages as { kind: string }[]).map((s) => s.kind);
    expect(kinds).toEqual(expect.arrayContaining(['decision', 'allocated', 'intent', 'order']));
    await service.feed(2);
    const eth = service.engine.portfolio!.positions.find((p) => p.symbol === 'ETHUSDT');
    expect(eth?.quantity).toBeLessThan(0);
    // a second entry on a held symbol is denied by risk, with the reason
    const again = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: auth,
      payload: { symbol: 'ETHUSDT', action: 'enter-short', confidence: 0.8 },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ accepted: false });
    expect(again.json().reason).toContain('risk:already-positioned');
  });
});

describe('POST /inference/chat', () => {
  it('rejects a caller-chosen endpoint and answers 503 when no model is configured', async () => {
    service = await testService();
    const withUrl = await service.app.inject({
      method: 'POST',
      url: '/inference/chat',
      headers: auth,
      payload: { endpoint: 'http://169.254.169.254/latest', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(withUrl.statusCode).toBe(400);
    expect(withUrl.json().message).toMatch(/endpoint|Unrecognized/i);
    const none = await service.app.inject({
      method: 'POST',
      url: '/inference/chat',
      headers: auth,
      payload: { messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(none.statusCode).toBe(503);
  });

  it('forwards to the configured model with its key and hides upstream failures', async () => {
    let fail = false;
    const peer = await modelPeer(() =>
      fail
        ? { status: 500, body: { error: 'stack trace with secret internals' } }
        : {
            status: 200,
            body: { model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'flat' } }] },
          },
    );
    service = await testService({
      app: { chat: { endpoint: peer.url, apiKey: 'model-key-77', model: 'fingpt-test', timeoutMs: 5000 } },
    });
    const ok = await service.app.inject({
      method: 'POST',
      url: '/inference/chat',
      headers: auth,
      payload: { messages: [{ role: 'user', content: 'BTC?' }] },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().choices[0].message.content).toBe('flat');
    expect(peer.seen[0]!.url).toBe('/v1/chat/completions');
    expect(peer.seen[0]!.auth).toBe('Bearer model-key-77');
    expect((peer.seen[0]!.body as { model: string }).model).toBe('fingpt-test');
    fail = true;
    const bad = await service.app.inject({
      method: 'POST',
      url: '/inference/chat',
      headers: auth,
      payload: { messages: [{ role: 'user', content: 'BTC?' }] },
    });
    expect(bad.statusCode).toBe(502);
    expect(bad.body).not.toContain('secret internals');
    expect(bad.body).not.toContain('model-key-77');
  });
});

describe('GET /streams/:name and /metrics', () => {
  it('serves decisions, positions and reasoning with a bounded limit', async () => {
    service = await testService();
    await service.feed(400);
    const d = await service.app.inject({ method: 'GET', url: '/streams/decisions?limit=5' });
    expect(d.statusCode).toBe(200);
    expect(d.json().entries.length).toBe(5);
    const p = await service.app.inject({ method: 'GET', url: '/streams/positions?limit=200' });
    expect(p.json().entries.some((e: { fields: { type: string } }) => e.fields.type === 'fill')).toBe(true);
    for (const url of [
      '/streams/orders',
      '/streams/decisions?limit=0',
      '/streams/decisions?limit=201',
      '/streams/decisions?limit=x',
    ]) {
      const r = await service.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(400);
    }
  });

  it('exposes Prometheus text with the trading metrics updated', async () => {
    service = await testService();
    await service.feed(400);
    const r = await service.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    const text = r.body;
    const value = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name) && !l.startsWith('#'))
        .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    expect(value('trading_decisions_total')).toBe(service.engine.counts.decisions);
    expect(value('trade_execution_success_total')).toBe(service.sent.filter((e) => e.kind === 'fill').length);
    expect(value('portfolio_equity_usd')).toBeCloseTo(service.engine.portfolio!.equity, 6);
    expect(value('decision_latency_seconds_count')).toBeGreaterThan(0);
  });
});

describe('limits and CORS', () => {
  it('rate-limits sensitive routes per address with 429', async () => {
    service = await testService({ settings: { RATE_LIMIT_PER_MINUTE: 5 } });
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      codes.push((await service.app.inject({ method: 'POST', url: '/stop', headers: auth })).statusCode);
    }
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429]);
    // health is not a sensitive route
    expect((await service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('allows only configured origins', async () => {
    service = await testService({ settings: { CORS_ORIGINS: 'https://desk.example.org' } });
    const ok = await service.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://desk.example.org' },
    });
    expect(ok.headers['access-control-allow-origin']).toBe('https://desk.example.org');
    const other = await service.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers unknown routes and malformed JSON with clean 4xx bodies', async () => {
    service = await testService();
    const missing = await service.app.inject({ method: 'GET', url: '/../../etc/passwd' });
    expect(missing.statusCode).toBe(404);
    const broken = await service.app.inject({
      method: 'POST',
      url: '/inference/decisions',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"symbol": ',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.body).not.toMatch(/at .*\.ts:\d+/);
  });
});
