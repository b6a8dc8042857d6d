import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { testService } from '../kit/service-kit.ts';

const PROMTOOL = '/usr/bin/promtool';
type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

describe('GET /metrics', () => {
  it('passes `promtool check metrics` (Debian prometheus) after trading', async () => {
    expect(existsSync(PROMTOOL), `${PROMTOOL} is missing: apt-get install --no-install-recommends prometheus`).toBe(
      true,
    );
    service = await testService();
    const s = service;
    for (let i = 0; i < 400 && s.engine.counts.fills === 0; i++) await s.feed(1);
    expect(s.engine.counts.fills).toBeGreaterThan(0);
    await s.app.inject({ method: 'GET', url: '/dashboard' });
    const text = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('nodejs_active_handles');
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});
