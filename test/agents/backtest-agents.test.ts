import { describe, expect, it } from 'vitest';
import type { Denied } from '../../pipelines/model/index.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { EMBEDDED_FORECAST, EMBEDDED_THESIS } from '../../operators/agents/embedded.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';

const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
const run = (o: Record<string, unknown>) => runBacktest({ settings: activeSettings(o), series, keepEvents: true });

describe('backtest with the embedded agents (AGENTS_ENABLED)', () => {
  const off = run({ AGENTS_ENABLED: false });
  const on = run({ AGENTS_ENABLED: true, COLLAB_SYMBOLS: '' });
  const collab = run({ AGENTS_ENABLED: true, COLLAB_SYMBOLS: 'BTCUSDT,ETHUSDT' });

  it('changes and blocks entries, with every gate outcome in the decision record', () => {
    const entries = (r: typeof on) => r.decisions.filter((d) => d.action !== 'exit');
    expect(entries(off).length).toBeGreaterThan(0);
    for (const d of entries(off)) expect(d.opinions).toEqual([]);
    expect(off.denials['consensus:agent-gates']).toBeUndefined();

    expect(on.denials['consensus:agent-gates']).toBeGreaterThan(0);
    expect(entries(on).length).toBeGreaterThan(0);
    expect(JSON.stringify(on.trades)).not.toBe(JSON.stringify(off.trades));
    for (const d of entries(on)) {
      expect(d.opinions.map((o) => o.agent)).toEqual([EMBEDDED_THESIS, EMBEDDED_FORECAST]);
      const gates = d.gates.map((g) => g.gate);
      expect(gates[0]).toBe('momentum');
      for (const a of [EMBEDDED_THESIS, EMBEDDED_FORECAST]) {
        for (const g of ['blocks-entry', 'accepted', 'confidence', 'risk', 'agrees'])
          expect(gates).toContain(`${a}:${g}`);
      }
      expect(d.gates.at(-1)).toMatchObject({ gate: 'support', passed: true });
      // the decision's confidence is the mean of the agreeing, counting agents
      const counting = d.opinions.filter(
        (o) => o.accepted && o.confidence >= 0.7 && o.direction === (d.action === 'enter-long' ? 1 : -1),
      );
      expect(d.confidence).toBeCloseTo(counting.reduce((s, o) => s + o.confidence, 0) / counting.length, 12);
    }
    const denied = on.events!.filter((e): e is Denied => e.kind === 'denied' && e.stage === 'consensus');
    expect(denied.length).toBe(on.denials['consensus:agent-gates']);
    for (const d of denied) expect(d.detail.length).toBeGreaterThan(0);
  });

  it('COLLAB_SYMBOLS require both agents to agree: fewer entries, each with both in favour', () => {
    const entries = collab.decisions.filter((d) => d.action !== 'exit');
    expect(entries.length).toBeLessThan(on.decisions.filter((d) => d.action !== 'exit').length);
    for (const d of entries) {
      expect(d.gates.find((g) => g.gate === 'support')).toMatchObject({ passed: true, value: 2, limit: 2 });
      for (const o of d.opinions) expect(o.direction).toBe(d.action === 'enter-long' ? 1 : -1);
    }
  });

  it('a forecast anomaly on a real jump blocks the entry', () => {
    const events = on.events!;
    let blocked = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.kind !== 'signal' || !e.opinions.some((o) => o.blocksEntry)) continue;
      blocked++;
      expect(e.opinions.find((o) => o.blocksEntry)?.riskScore).toBeGreaterThan(0.8);
      const verdict = events.slice(i + 1).find((x) => x.kind === 'denied' || x.kind === 'decision');
      expect(verdict?.kind).toBe('denied');
      expect(verdict?.kind === 'denied' && verdict.detail).toContain(`${EMBEDDED_FORECAST}:blocks-entry`);
    }
    expect(blocked).toBeGreaterThan(0);
  });

  it('is deterministic', () => {
    const again = run({ AGENTS_ENABLED: true, COLLAB_SYMBOLS: '' });
    expect(JSON.stringify(again.trades)).toBe(JSON.stringify(on.trades));
    expect(JSON.stringify(again.decisions)).toBe(JSON.stringify(on.decisions));
  });

  it('MIN_LLM_CONFIDENCE and RISK_THRESHOLD move the outcome', () => {
    const strict = run({ AGENTS_ENABLED: true, COLLAB_SYMBOLS: '', MIN_LLM_CONFIDENCE: 0.99 });
    expect(strict.decisions.filter((d) => d.action !== 'exit').length).toBe(0);
    const riskAverse = run({ AGENTS_ENABLED: true, COLLAB_SYMBOLS: '', RISK_THRESHOLD: 0.41 });
    expect(riskAverse.denials['consensus:agent-gates']).toBeGreaterThan(on.denials['consensus:agent-gates']!);
  });

  it('refuses to fall back to embedded agents silently when an endpoint is configured', () => {
    let error: unknown;
    try {
      run({ AGENTS_ENABLED: true, FINGPT_ENDPOINT: 'http://127.0.0.1:9' });
    } catch (e) {
      error = e;
    }
    expect(isSapphireError(error, 'NOT_CONFIGURED')).toBe(true);
    // agents off: endpoints are irrelevant
    expect(run({ AGENTS_ENABLED: false, FINGPT_ENDPOINT: 'http://127.0.0.1:9' }).trades).toEqual(off.trades);
  });
});
