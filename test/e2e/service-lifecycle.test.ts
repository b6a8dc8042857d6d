import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killSpawned, spawnServe, until, type ServeProcess } from '../../soak/kit.ts';

afterAll(killSpawned);

const TOKEN = 'lifecycle-admin-token-7c21';
const settings = (journal: string, more: Record<string, string> = {}) => ({
  JOURNAL_PATH: journal,
  SIMULATOR_REPLAY_MS: '60',
  ADMIN_API_TOKEN: TOKEN,
  LOG_LEVEL: 'silent',
  ...more,
});
const newJournal = () => join(mkdtempSync(join(tmpdir(), 'sapphire-lifecycle-')), 'journal.jsonl');

/** The exit code, or null if the process is still running after `ms`. */
async function exitWithin(p: ServeProcess, ms: number): Promise<{ code: number | null; afterMs: number } | null> {
  const t0 = performance.now();
  if (p.child.exitCode !== null) return { code: p.child.exitCode, afterMs: 0 };
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, afterMs: performance.now() - t0 });
    });
  });
}

async function healthy(p: ServeProcess): Promise<void> {
  await until(
    'healthz running',
    async () => {
      const r = (await (await fetch(`${p.base}/healthz`)).json()) as { running: boolean };
      return r.running ? true : undefined;
    },
    40_000,
  );
}

const journalLines = (path: string) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { type: string })
    : [];

describe('sapphire serve never runs headless (issue 14 item 7)', () => {
  it('exits non-zero naming the port when PORT is taken, before any input is processed', async () => {
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    try {
      const journal = newJournal();
      const p = spawnServe(port, settings(journal));
      const ended = await exitWithin(p, 40_000);
      await p.kill9();
      expect(ended, `still running after 40 s:\n${p.output()}`).not.toBeNull();
      expect(ended!.code).not.toBe(0);
      expect(p.output()).toContain(`PORT=${port} is in use`);
      // no bar, no command, no order: the engine never ran
      expect(journalLines(journal).filter((e) => e.type !== 'meta')).toEqual([]);
      expect(existsSync(`${journal}.lock`)).toBe(false);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  }, 60_000);

  it('refuses a second process on the same journal, refuses a journal of another bot, takes over a dead owner lock', async () => {
    const journal = newJournal();
    const first = spawnServe(await freePort(), settings(journal));
    await healthy(first);

    const second = spawnServe(await freePort(), settings(journal));
    const refused = await exitWithin(second, 30_000);
    await second.kill9();
    expect(refused, `second process still running:\n${second.output()}`).not.toBeNull();
    expect(refused!.code).not.toBe(0);
    expect(second.output()).toContain(`is in use by process ${first.child.pid}`);

    const port = Number(new URL(first.base).port);
    await first.kill9();
    expect(JSON.parse(readFileSync(`${journal}.lock`, 'utf8')).pid).toBe(first.child.pid);

    const other = spawnServe(port, settings(journal, { BOT_ID: 'otherbot' }));
    const foreign = await exitWithin(other, 30_000);
    await other.kill9();
    expect(foreign, `other bot still running:\n${other.output()}`).not.toBeNull();
    expect(foreign!.code).not.toBe(0);
    // the dead owner's lock is taken over (with a message), then the header check refuses the start
    expect(other.output()).toContain(`taking over the journal lock ${journal}.lock of process ${first.child.pid}`);
    expect(other.output()).toMatch(/belongs to paper bot \S+ on .*this start is paper bot otherbot/);

    const third = spawnServe(port, settings(journal));
    await healthy(third);
    third.child.kill('SIGTERM');
    expect((await exitWithin(third, 10_000))?.code).toBe(0);
    expect(existsSync(`${journal}.lock`)).toBe(false);
  }, 150_000);
});

describe('sapphire serve shuts down with dashboards open (issue 14 item 8)', () => {
  it('SIGTERM with 50 open /events streams: streams ended, exit 0 within 5 s, nothing journaled after', async () => {
    const journal = newJournal();
    const p = spawnServe(await freePort(), settings(journal));
    await healthy(p);
    const streams: { res: IncomingMessage; ended: boolean }[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        request(`${p.base}/events`, resolve).on('error', reject).end();
      });
      expect(res.statusCode).toBe(200);
      const s = { res, ended: false };
      res.on('data', () => {});
      res.on('close', () => (s.ended = true));
      res.on('error', () => (s.ended = true));
      streams.push(s);
    }
    p.child.kill('SIGTERM');
    const ended = await exitWithin(p, 8_000);
    await p.kill9();
    expect(ended, `still running 8 s after SIGTERM:\n${p.output()}`).not.toBeNull();
    expect(ended!.code).toBe(0);
    expect(ended!.afterMs).toBeLessThan(5_000);
    await until('streams to end', () => (streams.every((s) => s.ended) ? true : undefined), 2_000);
    const lines = journalLines(journal).length;
    await new Promise((r) => setTimeout(r, 300)); // a fixed wait on purpose: proves nothing writes after exit
    expect(journalLines(journal).length).toBe(lines);
  }, 90_000);
});
