import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, testService } from '../../kit/service-kit.ts';
import { checkModeRequirements } from '../../../live/service/service.ts';
import { parseSettings } from '../../../pipelines/settings.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
const servers: Server[] = [];
afterEach(async () => {
  await service?.close();
  service = null;
  for (const s of servers.splice(0)) s.close();
});

/** A service listening on a real loopback socket. */
async function listening(settings: Record<string, unknown>, app: Record<string, unknown> = {}) {
  service = await testService({ settings, app });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
}

/** One request over a real socket with any headers (fetch will not set Host). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const operator = { authorization: `Bearer ${ADMIN}` };

describe('operator lockout (issue 14 item 11)', () => {
  it("an authenticated operator is never limited by another client's failures (clients told apart by the trusted proxy)", async () => {
    const base = await listening({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_LIMIT_PER_MINUTE: 5,
      ADMIN_AUTH_FAILURES_PER_MINUTE: 5,
    });
    const attacker = { 'x-forwarded-for': '203.0.113.7', authorization: 'Bearer guess' };
    const codes: number[] = [];
    // the attacker hammers the very route the operator needs
    for (let i = 0; i < 40; i++) codes.push((await send(base, 'POST', '/emergency_stop', attacker)).status);
    expect(codes.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(codes.slice(5).every((c) => c === 429)).toBe(true);
    // a locked-out address is refused before its token is checked: guessing right gains nothing
    const lucky = await send(base, 'POST', '/stop', { 'x-forwarded-for': '203.0.113.7', ...operator });
    expect(lucky.status).toBe(429);
    expect(service!.engine.running).toBe(true);
    expect(service!.engine.riskState).not.toBe('HALTED');
    // the operator, elsewhere, is not touched by any of it
    const estop = await send(base, 'POST', '/emergency_stop', { 'x-forwarded-for': '198.51.100.2', ...operator });
    expect(estop.status).toBe(200);
    expect(service!.engine.riskState).toBe('HALTED');
  });

  it('failures never spend the allowance of a valid token from the same address', async () => {
    const base = await listening({ RATE_LIMIT_PER_MINUTE: 3, ADMIN_AUTH_FAILURES_PER_MINUTE: 3 });
    for (let i = 0; i < 2; i++) expect((await send(base, 'POST', '/stop')).status).toBe(401);
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await send(base, 'POST', '/stop', operator)).status);
    expect(codes).toEqual([200, 200, 200, 429]);
  });

  it('without TRUSTED_PROXIES a forged X-Forwarded-For is ignored: the socket address is the client', async () => {
    const base = await listening({ ADMIN_AUTH_FAILURES_PER_MINUTE: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      codes.push(
        (await send(base, 'POST', '/stop', { 'x-forwarded-for': `192.0.2.${i + 1}`, authorization: 'Bearer x' }))
          .status,
      );
    }
    expect(codes).toEqual([403, 403, 403, 429, 429, 429]);
  });

  it('refuses a malformed TRUSTED_PROXIES entry naming the setting', () => {
    expect(() => parseSettings({ TRUSTED_PROXIES: '10.0.0.0/8,proxy.local' })).toThrow(
      /TRUSTED_PROXIES=.*IP address or a CIDR/,
    );
  });
});

describe('ADMIN_API_TOKEN in live mode (issue 14 item 14)', () => {
  const live = {
    TRADING_MODE: 'live',
    ENABLE_PAPER_TRADING: false,
    ASTER_API_KEY: 'k',
    ASTER_SECRET_KEY: 's',
    ASTER_REST_URL: 'https://fapi.asterdex.com',
  };
  it('refuses a token shorter than 32 characters, naming the setting and the rule, never the token', () => {
    const short = 'short-token-0123456789';
    let message = '';
    try {
      checkModeRequirements(parseSettings({ ...live, ADMIN_API_TOKEN: short }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/ADMIN_API_TOKEN must be at least 32 characters in live mode \(it has 22\)/);
    expect(message).not.toContain(short);
    expect(() => checkModeRequirements(parseSettings({ ...live, ADMIN_API_TOKEN: 'x'.repeat(32) }))).not.toThrow();
    // paper mode keeps short tokens (tests, local use)
    expect(() => checkModeRequirements(parseSettings({ ADMIN_API_TOKEN: short }))).not.toThrow();
  });
});

describe('smaller admin-surface holes (issue 14 item 15)', () => {
  it('refuses a credential in the query string whatever its letter case', async () => {
    const base = await listening({});
    for (const name of ['token', 'Token', 'TOKEN', 'Admin_Token', 'ACCESS_TOKEN', 'apiKey']) {
      const r = await send(base, 'POST', `/stop?${name}=${ADMIN}`, operator);
      expect(r.status, name).toBe(400);
      expect(r.body).not.toContain(ADMIN);
    }
    expect(service!.engine.running).toBe(true);
  });

  it('answers only localhost names when bound to loopback (DNS rebinding), or the ALLOWED_HOSTS list', async () => {
    const base = await listening({});
    const port = new URL(base).port;
    expect((await send(base, 'GET', '/dashboard', { host: `localhost:${port}` })).status).toBe(200);
    expect((await send(base, 'GET', '/dashboard', { host: `127.0.0.1:${port}` })).status).toBe(200);
    const rebound = await send(base, 'GET', '/dashboard', { host: `attacker.example:${port}` });
    expect(rebound.status).toBe(421);
    expect(rebound.body).toContain('ALLOWED_HOSTS');
    expect((await send(base, 'GET', '/healthz', { host: 'attacker.example' })).status).toBe(421);
    await service!.close();
    service = null;
    const listed = await listening({ ALLOWED_HOSTS: 'sapphire.example.com' });
    expect((await send(listed, 'GET', '/dashboard', { host: 'Sapphire.Example.com:443' })).status).toBe(200);
    expect((await send(listed, 'GET', '/dashboard', { host: `localhost:${new URL(listed).port}` })).status).toBe(421);
  });

  it('/inference/chat passes only the known usage counters, never what else the model put there', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            model: 'm',
            choices: [{ index: 0, message: { role: 'assistant', content: 'flat' } }],
            usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, debug: { key: 'sk-model-secret' } },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const base = await listening({}, { chat: { endpoint, apiKey: 'sk-model-secret', model: 'm', timeoutMs: 5000 } });
    const r = await fetch(`${base}/inference/chat`, {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await r.text();
    expect(r.status).toBe(200);
    expect(JSON.parse(text).usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
    expect(text).not.toContain('sk-model-secret');
  });
});
