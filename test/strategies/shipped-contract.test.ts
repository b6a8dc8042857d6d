import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Subject } from 'rxjs';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { strategySignals } from '../../operators/signals/strategy-signals.ts';
import { SHIPPED_STRATEGIES } from '../../strategies/shipped/index.ts';
import { handSetFundingRates, loaded, runSignals, settingsFor, signalInputs, signalsOf } from './kit.ts';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const funding = handSetFundingRates(SYMBOLS);
const inputs = new Map<string, PipelineEvent[]>();

beforeAll(async () => {
  for (const s of SHIPPED_STRATEGIES) inputs.set(s.name, await signalInputs(settingsFor(s.name)));
});

afterEach(() => vi.restoreAllMocks());

describe.each(SHIPPED_STRATEGIES.map((s) => s.name))('strategy contract: %s', (name) => {
  const settings = settingsFor(name);
  const strategies = loaded(settings);
  const input = () => inputs.get(name)!;

  it('speaks on the fixture, every signal named after it with a strength in 0..1', async () => {
    const signals = signalsOf(await runSignals(strategies, settings, input(), funding));
    expect(signals.length).toBeGreaterThan(0);
    for (const s of signals) {
      expect(s.source).toBe(name);
      expect(s.strength).toBeGreaterThanOrEqual(0);
      expect(s.strength).toBeLessThanOrEqual(1);
      expect([1, -1]).toContain(s.direction);
    }
  });

  it('gives the same output for the same input, without reading the clock', async () => {
    const a = await runSignals(strategies, settings, input(), funding);
    vi.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('a strategy read Date.now');
    });
    vi.spyOn(performance, 'now').mockImplementation(() => {
      throw new Error('a strategy read performance.now');
    });
    const b = await runSignals(strategies, settings, input(), funding);
    expect(b).toEqual(a);
  });

  it('keeps two simultaneous subscriptions isolated', async () => {
    const solo = await runSignals(strategies, settings, input(), funding);
    const source = new Subject<PipelineEvent>();
    const op = strategySignals(strategies, settings, { fundingRates: funding });
    const left: PipelineEvent[] = [];
    const right: PipelineEvent[] = [];
    source.pipe(op).subscribe((e) => left.push(e));
    source.pipe(op).subscribe((e) => right.push(e));
    for (const e of input()) source.next(e);
    source.complete();
    expect(left).toEqual(solo);
    expect(right).toEqual(solo);
  });

  it('says nothing before its declared warm-up is over, per symbol', async () => {
    const out = await runSignals(strategies, settings, input(), funding);
    const warmUp = strategies[0]!.strategy.warmUpBars(strategies[0]!.settings as never);
    for (const symbol of SYMBOLS) {
      const first = out.findIndex((e) => e.kind === 'signal' && e.symbol === symbol);
      if (first < 0) continue;
      const featuresBefore = out.slice(0, first).filter((e) => e.kind === 'features' && e.symbol === symbol).length;
      expect(featuresBefore).toBeGreaterThan(warmUp);
    }
  });

  it('never reads the future: signals up to any cut are the same with the input cut there', async () => {
    const full = signalsOf(await runSignals(strategies, settings, input(), funding));
    expect(full.length).toBeGreaterThan(0);
    for (const at of [0.3, 0.55, 0.8]) {
      const cut = input()[Math.floor(input().length * at)]!.time;
      const truncated = input().filter((e) => e.time <= cut);
      const part = signalsOf(await runSignals(strategies, settings, truncated, funding));
      expect(part).toEqual(full.filter((s) => s.time <= cut));
    }
  });
});
