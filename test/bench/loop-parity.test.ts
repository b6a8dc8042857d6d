import { describe, expect, it } from 'vitest';
import { runLoopStrategy } from '../../bench/core/loop-strategy.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import type { PipelineEvent, TradeClosed } from '../../pipelines/model/index.ts';
import { fixtureColumns, mergedFixtureBars } from '../kit/fixture-bars.ts';
import { activeSettings, runFixture } from '../kit/pipeline-kit.ts';

const round = (x: number) => Number(x.toPrecision(10));

describe('the hand-written loop and the pipeline', () => {
  for (const [label, overrides] of [
    ['fixed sizing', {}],
    ['Kelly sizing with exploration', { SIZING_MODE: 'kelly', BANDIT_EPSILON: 0.3 }],
    [
      'fixed sizing, arms judged early (probes at a share of the size)',
      { BANDIT_EPSILON: 0.5, BANDIT_MIN_TRADES: 2, BANDIT_WINDOW_TRADES: 4, BANDIT_PROBE_SHARE: 0.3 },
    ],
    [
      'Kelly without an edge (probes on exploring episodes)',
      { SIZING_MODE: 'kelly', BANDIT_EPSILON: 0.5, KELLY_PRIOR_TRADES: 0, BANDIT_MIN_TRADES: 3 },
    ],
    [
      'ATR sizing, trailing and delever',
      { SIZING_MODE: 'atr', VOLATILITY_DELEVER_THRESHOLD: 0.6, TRAILING_STOP_BUFFER: 0.003 },
    ],
  ] as const) {
    it(`close the same trades at the same prices (${label})`, async () => {
      // the loop models no market impact: both run with unlimited book depth (LIQUIDITY_LEVEL_SHARE=0)
      const settings = activeSettings({ LIQUIDITY_LEVEL_SHARE: 0, ...overrides });
      const events: PipelineEvent[] = await runFixture(settings, mergedFixtureBars(['BTCUSDT', 'ETHUSDT']));
      const pipelineTrades = events.filter((e): e is TradeClosed => e.kind === 'trade-closed');
      const loop = runLoopStrategy(
        settings,
        [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
        filtersFor(settings.SYMBOLS),
      );
      expect(pipelineTrades.length).toBeGreaterThan(3);
      expect(
        loop.trades.map((t, i) => [
          t.symbol,
          t.side,
          t.closedAt,
          round(t.exitPrice),
          round(t.quantity),
          t.exitReason,
          loop.explored[i],
        ]),
      ).toEqual(
        pipelineTrades.map((t) => [
          t.symbol,
          t.side,
          t.time,
          round(t.exitPrice),
          round(t.quantity),
          t.exitReason,
          t.explored,
        ]),
      );
      if (label.includes('probes')) expect(pipelineTrades.some((t) => t.explored)).toBe(true);
    });
  }
});
