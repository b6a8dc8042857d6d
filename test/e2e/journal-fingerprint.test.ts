import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killSpawned, spawnServe, until, type ServeProcess } from '../../soak/kit.ts';

afterAll(killSpawned);

const settings = (journal: string, more: Record<string, string> = {}) => ({
  JOURNAL_PATH: journal,
  JOURNAL_SNAPSHOT_EVERY: '10',
  // runs with agents take no snapshots yet (their stage state is not snapshotted)
  AGENTS_ENABLED: 'false',
  SIMULATOR_REPLAY_MS: '60',
  ADMIN_API_TOKEN: 'fingerprint-admin-token-5d30',
  LOG_LEVEL: 'silent',
  ...more,
});
const lines = (path: string) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> })
    : [];

async function exitCode(p: ServeProcess, ms: number): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
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

describe('sapphire serve on a journal written with other strategy settings (issue 14 item 10)', () => {
  it('exits non-zero naming the change; --from-exchange sets the journal aside and starts without its history', async () => {
    const journal = join(mkdtempSync(join(tmpdir(), 'sapphire-fingerprint-')), 'journal.jsonl');
    const port = await freePort();
    const first = spawnServe(port, settings(journal));
    await healthy(first);
    await until(
      'a snapshot record',
      () => (lines(journal).some((e) => e.type === 'snapshot') ? true : undefined),
      30_000,
    );
    await first.kill9();
    const written = readFileSync(journal, 'utf8');

    const changed = settings(journal, { MOMENTUM_THRESHOLD: '0.77' });
    const refused = spawnServe(port, changed);
    const code = await exitCode(refused, 40_000);
    await refused.kill9();
    expect(code, refused.output()).not.toBeNull();
    expect(code).not.toBe(0);
    expect(refused.output()).toMatch(/other strategy settings or code \(MOMENTUM_THRESHOLD \S+ → 0\.77\)/);
    expect(refused.output()).toContain('--from-exchange');
    // the refused start wrote nothing
    expect(readFileSync(journal, 'utf8')).toBe(written);

    const fresh = spawnServe(port, changed, {}, ['--from-exchange']);
    await healthy(fresh);
    expect(fresh.output()).toContain('START_FROM_EXCHANGE: the journal was set aside');
    const aside = readdirSync(dirname(journal)).filter((f) => f.startsWith('journal.jsonl.superseded-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dirname(journal), aside[0]!), 'utf8')).toBe(written);
    // the new journal begins with a header naming the new kernel
    const header = lines(journal)[0]!;
    const oldHeader = JSON.parse(written.split('\n')[0]!) as { data: { fingerprint: string } };
    expect(header.type).toBe('meta');
    expect(header.data.fingerprint).not.toBe(oldHeader.data.fingerprint);
    expect(header.data.settings).toContain('"MOMENTUM_THRESHOLD":0.77');
    fresh.child.kill('SIGTERM');
    expect(await exitCode(fresh, 10_000)).toBe(0);
  }, 180_000);
});
