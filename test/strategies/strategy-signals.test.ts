import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Denied, PipelineEvent } from '../../pipelines/model/index.ts';
import { defineStrategy, type LoadedStrategy } from '../../strategies/kit/contract.ts';
import { runFixture } from '../kit/pipeline-kit.ts';
import { runSignals, settingsFor, signalInputs, signalsOf } from './kit.ts';

const returning = (wish: unknown): LoadedStrategy => ({
  strategy: defineStrategy({
    name: 'broken',
    settings: z.object({}),
    searchSpace: {},
    warmUpBars: () => 0,
    create: () => ({ onBar: () => wish as never }),
  }),
  settings: {},
  origin: 'test/broken.ts',
});

describe('the strategies stage', () => {
  it('stops on a malformed signal, naming the strategy, its file and the field', async () => {
    const settings = settingsFor('momentum');
    const input = (await signalInputs(settings)).slice(0, 2000);
    await expect(runSignals([returning({ direction: 2, strength: 0.5 })], settings, input)).rejects.toThrow(
      /STRATEGY_INVALID: strategy broken \(test\/broken\.ts\) at BTCUSDT .*: onBar returned direction 2, expected 1 or -1/,
    );
    await expect(runSignals([returning({ direction: 1, strength: 7 })], settings, input)).rejects.toThrow(
      /onBar returned strength 7, expected 0\.\.1/,
    );
  });

  it('runs several strategies in one pipeline: each signal names its strategy, disagreements on a flat symbol are denied', async () => {
    const settings = settingsFor('momentum,mean-reversion,breakout,trend');
    const events: PipelineEvent[] = await runFixture(settings);
    const sources = new Set(signalsOf(events).map((s) => s.source));
    expect(sources.size).toBeGreaterThan(1);
    for (const s of sources) expect(['momentum', 'mean-reversion', 'breakout', 'trend']).toContain(s);
    const conflicts = events.filter((e): e is Denied => e.kind === 'denied' && e.rule === 'strategies-disagree');
    expect(conflicts.length).toBeGreaterThan(0);
    expect(conflicts[0]!.detail).toMatch(/wants long, .* short: no entry/);
    // at most one signal per symbol and bar
    const keys = signalsOf(events).map((s) => `${s.symbol}@${s.time}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('momentum through the strategies stage is the same as momentum alone when the others never speak', async () => {
    const alone = await runFixture(settingsFor('momentum'));
    const withSilent = await runFixture(settingsFor('momentum,funding-rate'));
    expect(withSilent).toEqual(alone);
  });
});
