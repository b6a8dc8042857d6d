import { describe, expect, it } from 'vitest';
import { BollingerBands, DonchianChannels, ATR, EMA, RSI } from 'trading-signals';
import type { FeatureBar, PipelineEvent } from '../../pipelines/model/index.ts';
import { parseSettings } from '../../pipelines/settings.ts';
import { SHIPPED_STRATEGIES } from '../../strategies/shipped/index.ts';
import { settingsPrefix } from '../../strategies/registry.ts';
import { runFixture } from '../kit/pipeline-kit.ts';
import { handSetFundingRates, loaded, runSignals, settingsFor, signalInputs, signalsOf } from './kit.ts';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

/** the FeatureBars of one symbol in order, and each one's index, from a recorded input */
function featureBars(input: readonly PipelineEvent[], symbol: string): FeatureBar[] {
  return input.filter((e): e is FeatureBar => e.kind === 'features' && e.symbol === symbol);
}

async function signalsWithIndex(name: string, extra: Record<string, unknown> = {}, withFunding = false) {
  const settings = settingsFor(name, extra);
  const input = await signalInputs(settings);
  const funding = withFunding ? handSetFundingRates(SYMBOLS) : undefined;
  const signals = signalsOf(await runSignals(loaded(settings), settings, input, funding));
  return { settings, input, signals };
}

describe('shipped strategies: settings', () => {
  it.each(SHIPPED_STRATEGIES.map((s) => [s.name, s] as const))(
    '%s: keys carry its prefix, defaults parse, the search space is its own',
    (_, s) => {
      const prefix = settingsPrefix(s.name);
      for (const key of Object.keys(s.settings.shape)) expect(key.startsWith(prefix)).toBe(true);
      for (const key of Object.keys(s.searchSpace)) expect(Object.keys(s.settings.shape)).toContain(key);
      expect(Object.keys(s.searchSpace).length).toBeGreaterThan(0);
      expect(() => s.settings.parse({})).not.toThrow();
    },
  );

  it('a bad value is refused naming the variable and the rule', () => {
    expect(() => parseSettings({ MEAN_REVERSION_OVERSOLD: '60' })).toThrow(/MEAN_REVERSION_OVERSOLD="60".*<=49/);
    expect(() => parseSettings({ STRATEGIES: 'momentum,Not A Name' })).toThrow(/STRATEGIES.*shipped strategy name/);
  });
});

describe('shipped strategies: each signal follows the rule, recomputed independently', () => {
  it('mean-reversion buys under the lower band when RSI is oversold and sells over the upper one when overbought', async () => {
    const { settings, input, signals } = await signalsWithIndex('mean-reversion');
    expect(signals.length).toBeGreaterThan(0);
    for (const symbol of SYMBOLS) {
      const rsi = new RSI(settings.MEAN_REVERSION_RSI_BARS);
      const bb = new BollingerBands(settings.MEAN_REVERSION_BAND_BARS, settings.MEAN_REVERSION_BAND_WIDTH);
      const entries = new Map<number, { r: number; lower: number; upper: number; close: number }>();
      for (const f of featureBars(input, symbol)) {
        const r = rsi.update(f.bar.close, false);
        const b = bb.update(f.bar.close, false);
        if (r !== null && b !== null) entries.set(f.time, { r, lower: b.lower, upper: b.upper, close: f.bar.close });
      }
      for (const s of signals.filter((x) => x.symbol === symbol)) {
        const v = entries.get(s.time)!;
        const entry = s.direction > 0 ? v.close < v.lower && v.r <= 30 : v.close > v.upper && v.r >= 70;
        const exit = s.strength === 1; // the exit rule speaks at full strength, against the position
        expect(entry || exit, `${symbol} ${new Date(s.time).toISOString()}`).toBe(true);
      }
    }
  });

  it('breakout goes with a close beyond the previous channel by the ATR margin', async () => {
    const { settings, input, signals } = await signalsWithIndex('breakout');
    expect(signals.length).toBeGreaterThan(0);
    for (const symbol of SYMBOLS) {
      const dc = new DonchianChannels(settings.BREAKOUT_CHANNEL_BARS);
      const atr = new ATR(settings.BREAKOUT_ATR_BARS);
      let prior: { upper: number; lower: number } | null = null;
      const breaks = new Map<number, number>();
      for (const f of featureBars(input, symbol)) {
        const before = prior;
        const ch = dc.update({ high: f.bar.high, low: f.bar.low }, false);
        prior = ch && dc.isStable ? ch : null;
        const a = atr.update(f.bar, false);
        if (before === null || a === null || !atr.isStable) continue;
        const m = settings.BREAKOUT_ATR_MARGIN * a;
        breaks.set(f.time, f.bar.close > before.upper + m ? 1 : f.bar.close < before.lower - m ? -1 : 0);
      }
      for (const s of signals.filter((x) => x.symbol === symbol))
        expect(breaks.get(s.time) === s.direction || s.strength === 1, new Date(s.time).toISOString()).toBe(true);
    }
  });

  it('trend goes with the fast EMA against the slow one, beyond the minimum gap', async () => {
    const { settings, input, signals } = await signalsWithIndex('trend');
    expect(signals.length).toBeGreaterThan(0);
    for (const symbol of SYMBOLS) {
      const fast = new EMA(settings.TREND_FAST_BARS);
      const slow = new EMA(settings.TREND_SLOW_BARS);
      const side = new Map<number, number>();
      for (const f of featureBars(input, symbol)) {
        const a = fast.update(f.bar.close, false);
        const b = slow.update(f.bar.close, false);
        const gap = a / b - 1;
        const min = settings.TREND_MIN_GAP / 100;
        side.set(f.time, gap > min ? 1 : gap < -min ? -1 : 0);
      }
      for (const s of signals.filter((x) => x.symbol === symbol)) expect(side.get(s.time)).toBe(s.direction);
    }
  });

  it('funding-rate fades the crowded side of the last published rate, and is silent without a history', async () => {
    const { signals } = await signalsWithIndex('funding-rate', {}, true);
    const rates = handSetFundingRates(SYMBOLS);
    expect(signals.length).toBeGreaterThan(0);
    for (const s of signals) {
      const last = rates.filter((r) => r.symbol === s.symbol && r.fundingTime <= s.time).at(-1)!;
      if (Math.abs(last.rate) > 0.0005) expect(s.direction).toBe(last.rate > 0 ? -1 : 1);
      else expect(s.strength).toBe(1); // the exit rule, as the rate calmed down
    }
    const silent = await signalsWithIndex('funding-rate');
    expect(silent.signals).toEqual([]);
  });

  it('an exit rule becomes an exit decision in the full pipeline (mean-reversion back at the middle band)', async () => {
    const all = await runFixture(settingsFor('mean-reversion'));
    const exits = all.filter((e) => e.kind === 'decision' && e.action === 'exit');
    expect(all.some((e) => e.kind === 'decision' && e.action !== 'exit')).toBe(true);
    expect(exits.length).toBeGreaterThan(0);
    for (const e of exits) if (e.kind === 'decision') expect(e.source).toBe('mean-reversion');
  });
});
