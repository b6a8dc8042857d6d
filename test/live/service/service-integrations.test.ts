import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings } from '../../../pipelines/settings.ts';
import { startService, checkModeRequirements, type RunningService } from '../../../live/service/service.ts';
import { REPO } from '../../kit/cli.ts';
import { until } from '../../../soak/kit.ts';
import { startExchangeSimulator } from '../../../simulator/start-simulator.ts';

let service: RunningService | null = null;
const servers: Server[] = [];
afterEach(async () => {
  await service?.close();
  service = null;
  for (const s of servers.splice(0)) s.close();
});

/** A loopback Telegram Bot API: records sendMessage calls, serves empty getUpdates. */
async function telegramPeer() {
  const messages: { path: string; text: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url?.endsWith('/sendMessage')) {
        messages.push({ path: req.url, text: (JSON.parse(body) as { text: string }).text });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, result: { message_id: messages.length } }));
        return;
      }
      // getUpdates: answer after a short wait with nothing (the peer's long poll, so the notifier does
      // not spin; no test waits on it)
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, result: [] }));
      }, 200);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, messages };
}

describe('the assembled service (embedded simulator, paper)', () => {
  it('sends trade notices to Telegram, counts them in Prometheus, and never puts the token in a response', async () => {
    const tg = await telegramPeer();
    const token = '123456:telegram-secret-token';
    service = await startService(
      parseSettings({
        SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
        SIMULATOR_REPLAY_MS: 15,
        JOURNAL_PATH: join(mkdtempSync(join(tmpdir(), 'sapphire-svc-')), 'journal.jsonl'),
        TELEGRAM_BOT_TOKEN: token,
        TELEGRAM_CHAT_ID: '42',
        TELEGRAM_API_URL: tg.url,
        TELEGRAM_TRADE_COOLDOWN_SECONDS: 0,
        PORT: 0,
      }),
      { embeddedExchange: startExchangeSimulator, port: 0 },
    );
    await until('a Telegram sendMessage', () => (tg.messages.length > 0 ? true : undefined), 60_000);
    expect(tg.messages[0]!.path).toBe(`/bot${token}/sendMessage`);
    expect(tg.messages[0]!.text).toMatch(/BTCUSDT|ETHUSDT|SOLUSDT/);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/telegram_notifications_total\{outcome="sent"\} [1-9]/);
    for (const path of ['/healthz', '/dashboard', '/metrics', '/streams/positions?limit=200']) {
      expect(await (await fetch(`${service.url}${path}`)).text()).not.toContain('telegram-secret-token');
    }
  }, 90_000);

  it('asks a remote thesis model through the gateway, gates on it, tapes replies beside the journal and times them', async () => {
    let calls = 0;
    const model = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls++;
        const prompt = JSON.stringify(JSON.parse(body));
        const side = /short|down|fall/i.test(prompt) ? 'short' : 'long';
        const content = JSON.stringify({
          thesis: `Momentum and volume support a ${side} position here.`,
          side,
          risk_score: 0.5,
          confidence: 0.9,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content } }] }));
      });
    });
    await new Promise<void>((r) => model.listen(0, '127.0.0.1', r));
    servers.push(model);
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-agents-')), 'journal.jsonl');
    service = await startService(
      parseSettings({
        SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
        SIMULATOR_REPLAY_MS: 15,
        JOURNAL_PATH: journal,
        AGENTS_ENABLED: true,
        FINGPT_ENDPOINT: `http://127.0.0.1:${(model.address() as AddressInfo).port}`,
        FINGPT_MODEL: 'test-model',
        FINGPT_API_KEY: 'model-secret-key',
        PORT: 0,
      }),
      { embeddedExchange: startExchangeSimulator, port: 0 },
    );
    await until('three model calls', () => (calls >= 3 ? true : undefined), 60_000);
    const url = service.url;
    // the reasoning entry and the timing metric are written after the model's reply arrives
    const reasoning = await until(
      'a reasoning entry with a fingpt opinion',
      async () => {
        const body = (await (await fetch(`${url}/streams/reasoning?limit=200`)).json()) as {
          entries: { fields: Record<string, string> }[];
        };
        return body.entries.some((e) => (e.fields.opinions ?? '').includes('fingpt')) ? body : undefined;
      },
      30_000,
    );
    expect(reasoning.entries.some((e) => (e.fields.opinions ?? '').includes('fingpt'))).toBe(true);
    const metrics = await until(
      'the fingpt inference timing in /metrics',
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /llm_inference_time_seconds_count\{agent="fingpt"\} [1-9]/.test(text) ? text : undefined;
      },
      30_000,
    );
    expect(metrics).toMatch(/llm_inference_time_seconds_count\{agent="fingpt"\} [1-9]/);
    await until(
      'the agents tape beside the journal',
      () => (existsSync(`${journal}.agents.jsonl`) ? true : undefined),
      30_000,
    );
    expect(existsSync(`${journal}.agents.jsonl`)).toBe(true);
    expect(readFileSync(`${journal}.agents.jsonl`, 'utf8')).not.toContain('model-secret-key');
  }, 90_000);

  it('refuses live mode without credentials and an admin token, naming what is missing', () => {
    expect(() => checkModeRequirements(parseSettings({ TRADING_MODE: 'live' }))).toThrow(
      /TRADING_MODE=live refuses to start without exchange credentials.*ADMIN_API_TOKEN/,
    );
    expect(() =>
      checkModeRequirements(
        parseSettings({
          TRADING_MODE: 'live',
          ENABLE_PAPER_TRADING: false,
          ASTER_API_KEY: 'k',
          ASTER_SECRET_KEY: 's',
          ADMIN_API_TOKEN: 'a-live-admin-token-of-32-chars-ok',
          ASTER_REST_URL: 'https://fapi.asterdex.com',
        }),
      ),
    ).not.toThrow();
  });
});

describe('the embedded market on a restart', () => {
  it('resumes right after the last journaled bar (not from the start of the replay)', async () => {
    const { resumeIndex } = await import('../../../live/service/aster-source.ts');
    const { fixtureColumns } = await import('../../kit/fixture-bars.ts');
    const btc = fixtureColumns('BTCUSDT');
    expect(resumeIndex(btc, 300, -Infinity)).toBe(300);
    const last = btc.openTime[700]! + btc.intervalMs;
    const i = resumeIndex(btc, 300, last);
    expect(btc.openTime[i]! + btc.intervalMs).toBe(last);
    // a journal older than the warm-up still starts after the warm-up
    expect(resumeIndex(btc, 300, btc.openTime[10]!)).toBe(300);
  });
});
