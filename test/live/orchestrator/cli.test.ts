import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OrchestratorClient } from '../../../live/orchestrator/orchestrator-client.ts';
import { REPO, sapphire } from '../../kit/cli.ts';
import { startAsterPeer, type AsterPeer } from './kit/aster-peer.ts';
import { realCloses, TOKEN } from './kit/orchestrator-kit.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function baseEnv(peer: AsterPeer | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ORCHESTRATOR_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ...(peer ? { ASTER_REST_URL: peer.url, ASTER_API_KEY: peer.apiKey, ASTER_SECRET_KEY: peer.secretKey } : {}),
    ...extra,
  };
}

// cwd is an empty temp folder, so no .env is read (node 20 itself grabs a --env-file flag anywhere in argv)
describe('sapphire orchestrator (the command)', () => {
  it('refuses to start without ADMIN_API_TOKEN, and without credentials', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orch-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const noToken = sapphire(['orchestrator'], {
      cwd: dir,
      env: { ASTER_API_KEY: 'k', ASTER_SECRET_KEY: 's', ORCHESTRATOR_PORT: '0' },
      timeoutMs: 60_000,
    });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('refuses to start without ADMIN_API_TOKEN');
    const noCreds = sapphire(['orchestrator'], {
      cwd: dir,
      env: { ADMIN_API_TOKEN: TOKEN, ORCHESTRATOR_PORT: '0' },
      timeoutMs: 60_000,
    });
    expect(noCreds.code).toBe(1);
    expect(noCreds.stderr).toContain('exchange credentials');
    expect(noCreds.stderr).not.toContain(TOKEN);
  });

  it('runs as a process: a bot routes through it with OrchestratorClient, duplicates are caught, emergency stop flattens', async () => {
    const peer = await startAsterPeer({
      marks: { BTCUSDT: realCloses('BTCUSDT').last, ETHUSDT: realCloses('ETHUSDT').last },
      wallet: 10_000,
    });
    cleanups.push(() => peer.close());
    const dir = mkdtempSync(join(tmpdir(), 'orch-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        `${REPO}bin/sapphire.ts`,
        'orchestrator',
        '--journal',
        join(dir, 'j.jsonl'),
      ],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          ...baseEnv(peer, { ADMIN_API_TOKEN: TOKEN }),
        },
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start line; stderr: ${err}`)), 45_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /orchestrator on (http:\/\/[\d.]+:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(out).not.toContain(peer.secretKey);
    expect(out).not.toContain(TOKEN);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);

    const bot = new OrchestratorClient({ baseUrl: url, botId: 'bot-a', adminToken: TOKEN });
    const req = {
      symbol: 'ETHUSDT',
      side: 'BUY' as const,
      type: 'MARKET' as const,
      quantity: 0.2,
      clientOrderId: 'bot-a-ETH-1',
      reduceOnly: false,
    };
    expect((await bot.placeOrder(req)).status).toBe('routed');
    expect(await bot.placeOrder(req)).toMatchObject({ status: 'duplicate', clientOrderId: 'bot-a-ETH-1' });
    expect(await bot.registerDecision({ symbol: 'ETHUSDT', action: 'enter-long', confidence: 0.6 })).toBe('bot-a:1');
    expect(peer.positions.get('ETHUSDT')?.amt).toBeCloseTo(0.2, 12);

    const wrong = new OrchestratorClient({ baseUrl: url, botId: 'bot-b', adminToken: 'wrong' });
    await expect(wrong.placeOrder({ ...req, clientOrderId: 'x' })).rejects.toThrow(/refused this bot's admin token/);

    const stop = await bot.emergencyStop();
    expect(stop.status).toBe(200);
    expect(peer.positions.size).toBe(0);
    expect(await bot.placeOrder({ ...req, clientOrderId: 'bot-a-ETH-2' })).toMatchObject({ status: 'halted' });
    const pf = (await bot.portfolio()) as { halted: boolean; walletBalance: number };
    expect(pf.halted).toBe(true);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(err).not.toContain(TOKEN);
    // unreachable orchestrator: a result, not a throw (safe to retry with the same id)
    expect(await bot.placeOrder(req)).toMatchObject({ status: 'unreachable' });
  });
});
