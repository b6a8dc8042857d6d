import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseSettings } from '../../pipelines/settings.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { freePort, getJson, killSpawned, spawnServe, until, type ServeProcess } from '../../soak/kit.ts';
import { REPO } from '../kit/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'sapphire-serve-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let procs: ServeProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.kill9()));
  procs = [];
});
afterAll(() => killSpawned());

interface Health {
  running: boolean;
  agents: { agents: Record<string, { available: boolean; without: number }> } | null | undefined;
}

function serve(name: string, extra: Record<string, string> = {}): Promise<ServeProcess> {
  return freePort().then((port) => {
    const p = spawnServe(port, {
      SIMULATOR_REPLAY_MS: '20',
      JOURNAL_PATH: join(dir, `${name}.jsonl`),
      LOG_LEVEL: 'info',
      ...extra,
    });
    procs.push(p);
    return p;
  });
}

const healthOf = (p: ServeProcess) =>
  until(
    'healthz',
    async () => {
      if (p.child.exitCode !== null) throw new Error(`serve exited: ${p.output().slice(-400)}`);
      return getJson<Health>(`${p.base}/healthz`);
    },
    60_000,
  );

const minute = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

describe('npm start runs the embedded agents (issue 17)', { timeout: 300_000 }, () => {
  it('serve with no AGENTS_ENABLED gates entries with the embedded agents and fills what the backtest fills', async () => {
    const on = await serve('on');
    const health = await healthOf(on);
    expect(on.output()).toContain('agents:     thesis (embedded), forecast (embedded)');
    expect(Object.keys(health.agents!.agents)).toEqual(['thesis-rules', 'forecast-garch']);

    // the backtest of the same sample with the agents on: its first entry is the service's first fill
    const defaults = parseSettings({});
    const series = await loadDataset({
      dir: join(REPO, defaults.SIMULATOR_DATA_DIR),
      to: Date.parse('2025-10-24T00:00:00Z'),
    });
    // the embedded market serves the symbols of its sample, as the backtest CLI narrows to the data
    const settings = parseSettings({ AGENTS_ENABLED: true, SYMBOLS: series.map((c) => c.symbol).join(',') });
    const result = runBacktest({ settings, series, agents: backtestAgentStage(settings), keepEvents: true });
    const entry = result.trades[0]!;
    const gated = result.decisions.filter((d) => d.action !== 'exit' && d.opinions.length === 2);
    expect(gated.length).toBeGreaterThan(0);
    const fillLine = /(\d{4}-\d\d-\d\d \d\d:\d\d) fill +(\S+) (BUY|SELL) (\S+) @ (\S+) \((\w+)/;
    // the sample reaches that bar about 330 bars in: ~7 s at 20 ms a bar; the wait allows for a loaded machine
    const fill = await until('the first fill', async () => fillLine.exec(on.output()) ?? undefined, 180_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}; serve said: ${on.output().slice(-600)}`);
      },
    );
    const [, at, symbol, side, quantity, price, reason] = fill;
    expect({ at, symbol, side, quantity: Number(quantity), reason }).toEqual({
      at: minute(entry.openedAt),
      symbol: entry.symbol,
      side: entry.side === 'LONG' ? 'BUY' : 'SELL',
      quantity: entry.quantity,
      reason: 'entry',
    });
    expect(Number(price)).toBeCloseTo(entry.entryPrice, 6);
    const after = await getJson<Health>(`${on.base}/healthz`);
    expect(after.agents!.agents['thesis-rules']!.available).toBe(true);
    expect(after.agents!.agents['forecast-garch']!.without).toBe(0);
  });

  it('AGENTS_ENABLED=false turns them off', async () => {
    const off = await serve('off', { AGENTS_ENABLED: 'false' });
    const health = await healthOf(off);
    expect(off.output()).toContain('agents:     off (AGENTS_ENABLED=false)');
    expect(health.agents ?? null).toBeNull();
  });
});
