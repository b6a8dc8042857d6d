import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { raw, v1 } from './kit.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BTC = fixtureColumns('BTCUSDT');

describe('sapphire simulator (CLI)', () => {
  it('serves the replayed fixture bars and accepts the key from the environment, stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bin/sapphire.ts',
        'simulator',
        '--data',
        'test/fixtures/core',
        '--symbols',
        'BTCUSDT',
        '--port',
        '0',
        '--replay-ms',
        '0',
        '--start-index',
        '20',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ASTER_API_KEY: 'cli-key', ASTER_SECRET_KEY: 'cli-secret-not-real' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 300 && !/REST (http:\/\/\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /REST (http:\/\/\S+)/.exec(out)?.[1];
      expect(url, `no URL printed; stderr: ${err}`).toBeDefined();
      expect(out).not.toContain('cli-secret-not-real');
      const k = (await raw(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=5m&limit=1000`)).json as unknown[][];
      expect(k).toHaveLength(21);
      expect(k.at(-1)![0]).toBe(BTC.openTime[20]);
      const bal = await v1(url!, 'GET', '/fapi/v2/balance', {}, { key: 'cli-key', secret: 'cli-secret-not-real' });
      expect((bal.json as Record<string, unknown>[])[0]!.balance).toBe('10000.00000000');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses an unknown fault kind with a usage error', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sapphire.ts', 'simulator', '--faults', 'bogus'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(err).toContain('unknown kind bogus');
  });
});
