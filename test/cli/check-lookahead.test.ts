import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { runBacktest, sliceSeries } from '../../backtests/run-backtest.ts';
import {
  checkLookahead,
  firstDifferentField,
  seededCuts,
  type AgentStage,
  type LookaheadOptions,
} from '../../backtests/lookahead-check.ts';
import { checkLookaheadParallel } from '../../backtests/lookahead-parallel.ts';
import { DEFAULT_CUTS } from '../../bin/commands/check.ts';
import { REPO, sapphire } from '../kit/cli.ts';
import { sharedData } from '../kit/shared-data.ts';
import { holdForNextClose, peekLastClose, peekNextClose, waitForLastClose } from '../kit/planted-lookahead.ts';

const SAMPLE = join(REPO, 'data/sample/perp-5m');
const PERP_2025 = sharedData('perp-5m-2025');

const settingsFor = (series: readonly BarColumns[], o: Record<string, unknown> = {}): Settings =>
  parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(','), ...o });

type Plant = Pick<LookaheadOptions, 'agents' | 'agentsFor'>;
const PLANTED: Record<string, Plant> = {
  'reads the next close from the data': { agentsFor: peekNextClose },
  'holds a signal for the next close': { agents: holdForNextClose },
  'reads the last close from the data': { agentsFor: peekLastClose },
  'waits for the last close': { agents: waitForLastClose as AgentStage },
};

const check = (settings: Settings, series: readonly BarColumns[], plant: Plant = {}, stopAtFirst = true) =>
  checkLookahead({ settings, series, cuts: seededCuts(series, DEFAULT_CUTS, 1), stopAtFirst, ...plant });

describe('sapphire check lookahead', { timeout: 300_000 }, async () => {
  const sample = await loadDataset({ dir: SAMPLE });

  it('draws 20 distinct seeded cuts by default, the same for the same seed', () => {
    const a = seededCuts(sample, DEFAULT_CUTS, 1);
    expect(DEFAULT_CUTS).toBeGreaterThanOrEqual(20);
    expect(new Set(a).size).toBe(DEFAULT_CUTS);
    expect(seededCuts(sample, DEFAULT_CUTS, 1)).toEqual(a);
    expect(seededCuts(sample, DEFAULT_CUTS, 2)).not.toEqual(a);
    for (const c of a) expect(sample[0]!.openTime.includes(c)).toBe(true);
  });

  it('each planted look-ahead changes the backtest (so a check that passes it is blind)', () => {
    const settings = settingsFor(sample);
    const honest = runBacktest({ settings, series: sample }).trades.length;
    for (const plant of Object.values(PLANTED)) {
      const stage = plant.agentsFor ? plant.agentsFor(sample) : plant.agents;
      const cheat = runBacktest({ settings, series: sample, agents: stage }).trades.length;
      expect(cheat).not.toBe(honest);
    }
  });

  for (const [name, plant] of Object.entries(PLANTED)) {
    it(`catches a stage that ${name}, at the default cuts (shipped sample)`, () => {
      const report = check(settingsFor(sample), sample, plant);
      expect(report.passed).toBe(false);
      const d = report.late ?? report.outcomes.find((o) => o.difference !== null)!.difference!;
      expect(d.kind.length).toBeGreaterThan(0);
      expect(d.field.length).toBeGreaterThan(0);
      expect(d.full).not.toBe(d.truncated);
    });
  }

  it('the cut comparison alone catches a stage reading the next close at most cuts', () => {
    const report = check(settingsFor(sample), sample, PLANTED['reads the next close from the data']!, false);
    expect(report.late).toBeNull();
    const caught = report.outcomes.filter((o) => o.difference !== null).length;
    expect(caught).toBeGreaterThanOrEqual(DEFAULT_CUTS / 2);
  });

  // the whole sample for the default settings; its first 60 days (17,280 steps) for atr and the
  // agents, to keep `npm test` bounded (every configuration is also checked in lookahead-configs)
  for (const [label, o, days] of [
    ['default settings', {}, Infinity],
    ['SIZING_MODE=atr', { SIZING_MODE: 'atr' }, 60],
    ['the embedded agents', { AGENTS_ENABLED: true }, 60],
  ] as const) {
    it(`passes the unplanted pipeline with ${label} at the default cuts (shipped sample, worker threads)`, async () => {
      const series = sliceSeries(sample, undefined, sample[0]!.openTime[0]! + days * 86_400_000);
      const report = await checkLookaheadParallel({
        settings: settingsFor(series, o),
        series,
        cuts: seededCuts(series, DEFAULT_CUTS, 1),
      });
      expect(report.late).toBeNull();
      expect(report.outcomes.map((x) => x.difference)).toEqual(Array(DEFAULT_CUTS).fill(null));
      // it compared something: the cascades before the last cut hold most of the run
      expect(report.outcomes.at(-1)!.events).toBeGreaterThan(50_000);
      expect(report.outcomes.at(-1)!.rows).toBeGreaterThan(10_000);
    });
  }

  it('names the first differing field with both values', () => {
    const a = { kind: 'decision', features: { bar: { close: 1 } }, gates: [{ v: Number.NaN }] };
    expect(firstDifferentField(a, structuredClone(a))).toBeNull();
    expect(firstDifferentField(a, { ...a, features: { bar: { close: 2 } } })).toEqual({
      path: 'features.bar.close',
      a: 1,
      b: 2,
    });
    expect(firstDifferentField(a, { ...a, gates: [] })).toMatchObject({ path: 'gates[0]', b: undefined });
  });

  it('runs as a command: exit 0 on the shipped pipeline, a usage error on bad flags', () => {
    const ok = sapphire(['check', 'lookahead', '--data', `${REPO}test/fixtures/core`, '--cuts', '3', '--seed', '7']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('no look-ahead');
    expect(ok.stdout.match(/identical/g)?.length).toBe(3);
    expect(sapphire(['check', 'sideways']).code).toBe(1);
    const bad = sapphire(['check', 'lookahead', '--cuts', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--cuts 0');
  });
});

describe.skipIf(!existsSync(PERP_2025))('sapphire check lookahead on perp-5m-2025', { timeout: 600_000 }, async () => {
  const series = existsSync(PERP_2025) ? await loadDataset({ dir: PERP_2025 }) : [];

  for (const [name, plant] of Object.entries(PLANTED)) {
    it(`catches a stage that ${name}, at the default cuts`, () => {
      expect(check(settingsFor(series), series, plant).passed).toBe(false);
    });
  }
});
