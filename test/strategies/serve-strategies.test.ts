import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, until } from '../../soak/kit.ts';
import { REPO } from '../kit/cli.ts';

const children: ChildProcess[] = [];
// the telemetry streams are shared in Redis: this run's entries are those with its bot id
const BOT = `strat${process.pid % 1_000_000}`;
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Dashboard {
  config: { strategies: string[] };
}
interface Entry {
  fields: Record<string, string>;
}

describe('npm start with STRATEGIES=… (embedded simulator, paper)', () => {
  it('runs the listed strategies, names them (and only them) in its summary and dashboard, and both decide', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-strategies-')), 'journal.jsonl');
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        `${REPO}bin/sapphire.ts`,
        'serve',
        `PORT=${port}`,
        'SIMULATOR_REPLAY_MS=40',
        `JOURNAL_PATH=${journal}`,
        'ADMIN_API_TOKEN=strategies-e2e-token-5c1b',
        `BOT_ID=${BOT}`,
        'STRATEGIES=mean-reversion,breakout',
        // short windows so both speak within the first minutes of the replay
        'MEAN_REVERSION_BAND_BARS=12',
        'MEAN_REVERSION_RSI_BARS=6',
        'MEAN_REVERSION_OVERSOLD=40',
        'MEAN_REVERSION_OVERBOUGHT=60',
        'BREAKOUT_CHANNEL_BARS=12',
        'BREAKOUT_ATR_MARGIN=0',
      ],
      { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: 'pipe' },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(
      'healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`);
        return (await fetch(`${base}/healthz`)).ok ? true : undefined;
      },
      30_000,
    );
    const summary = /strategies: ([^;]*);/.exec(stdout)?.[1];
    expect(summary).toBe('mean-reversion, breakout');
    const view = (await (await fetch(`${base}/dashboard`)).json()) as Dashboard;
    expect([...view.config.strategies].sort()).toEqual(['breakout', 'mean-reversion']);
    // decisions come from the listed strategies only, and from both of them
    const sources = new Set<string>();
    await until(
      'decisions from both strategies',
      async () => {
        const r = (await (await fetch(`${base}/streams/decisions?limit=200`)).json()) as { entries: Entry[] };
        for (const e of r.entries)
          if (e.fields.bot_id === BOT && e.fields.type === 'decision') sources.add(e.fields.source!);
        return sources.has('mean-reversion') && sources.has('breakout') ? true : undefined;
      },
      90_000,
    );
    expect([...sources].filter((s) => s !== 'external').sort()).toEqual(['breakout', 'mean-reversion']);
  }, 150_000);
});
