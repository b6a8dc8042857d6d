import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { consoleLine } from '../../live/service/console-lines.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';

describe('npm start console lines', () => {
  it('prints each fill and closed trade on one line with the year, and nothing for per-bar events', () => {
    const settings = activeSettings();
    const result = runBacktest({
      settings,
      series: [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')],
      keepEvents: true,
    });
    const events = result.events as PipelineEvent[];
    const lines = events.map((e) => ({ e, line: consoleLine(e) }));
    const fills = lines.filter((x) => x.e.kind === 'fill');
    const trades = lines.filter((x) => x.e.kind === 'trade-closed');
    expect(fills.length).toBeGreaterThan(0);
    expect(trades.length).toBeGreaterThan(0);
    for (const { e, line } of [...fills, ...trades]) {
      expect(line!.level).toBe('info');
      expect(line!.text).not.toContain('\n');
      expect(line!.text.startsWith(new Date(e.time).toISOString().slice(0, 16).replace('T', ' '))).toBe(true);
      expect(line!.text).toContain(e.kind === 'fill' ? 'fill' : 'closed by');
    }
    for (const { e, line } of lines) {
      if (e.kind === 'bar' || e.kind === 'features' || e.kind === 'decision' || e.kind === 'portfolio')
        expect(line).toBeNull();
    }
  });

  it('sends rejections and agent faults to stderr and keeps warm-up halts quiet', () => {
    const rejected = consoleLine({
      kind: 'order-rejected',
      time: 0,
      symbol: 'BTCUSDT',
      clientOrderId: 'c1',
      reason: 'slippage guard',
    });
    expect(rejected).toEqual({ level: 'error', text: '1970-01-01 00:00 order rejected BTCUSDT c1: slippage guard' });
    expect(
      consoleLine({ kind: 'risk-state', time: 0, from: 'ACTIVE', to: 'HALTED', reason: 'halt: warm-up on history' }),
    ).toBeNull();
    expect(
      consoleLine({
        kind: 'risk-state',
        time: 0,
        from: 'ACTIVE',
        to: 'HALTED',
        reason: 'drawdown 21 % reached MAX_DRAWDOWN 20 %',
      })!.text,
    ).toContain('ACTIVE → HALTED: drawdown');
  });
});
