import { describe, expect, it } from 'vitest';
import { strategyTuningSpace } from '../../research/strategy-space.ts';
import { SEARCH_SPACE, withOverrides, DEFAULT_SETTINGS } from '../../pipelines/settings.ts';
import { parseParamsFlag } from '../../research/space-select.ts';

describe('what a study tunes with --strategy', () => {
  it("--strategy breakout tunes breakout's own parameters by default", () => {
    const { byDefault } = strategyTuningSpace(['breakout'], true);
    expect(Object.keys(byDefault).sort()).toEqual([
      'BREAKOUT_ATR_BARS',
      'BREAKOUT_ATR_MARGIN',
      'BREAKOUT_CHANNEL_BARS',
    ]);
  });

  it('without --strategy the default space is the platform’s, as before', () => {
    const { byDefault } = strategyTuningSpace(['momentum'], false);
    expect(Object.keys(byDefault).sort()).toEqual(Object.keys(SEARCH_SPACE).sort());
  });

  it('STRATEGIES is a categorical choice of shipped strategies, alone and in pairs, each a valid setting', () => {
    const { declared } = strategyTuningSpace(['momentum'], false);
    const space = parseParamsFlag('STRATEGIES,BREAKOUT_CHANNEL_BARS:24:200', declared);
    const spec = space.STRATEGIES!;
    expect(spec.type).toBe('categorical');
    const choices = spec.type === 'categorical' ? spec.choices : [];
    expect(choices).toContain('momentum');
    expect(choices).toContain('momentum,breakout');
    expect(choices.length).toBe(15);
    for (const c of choices) expect(() => withOverrides(DEFAULT_SETTINGS, { STRATEGIES: c })).not.toThrow();
    expect(space.BREAKOUT_CHANNEL_BARS).toMatchObject({ type: 'int', low: 24, high: 200 });
  });
});
