import { describe, expect, it } from 'vitest';
import { firstValueFrom, from, toArray } from 'rxjs';
import type { AgentOpinion, PipelineEvent, Signal } from '../../../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../../../pipelines/ports.ts';
import { runBacktest } from '../../../backtests/run-backtest.ts';
import { features } from '../../../operators/features/features.ts';
import { momentum } from '../../../operators/signals/momentum.ts';
import { agentStage, newAgentStageCounts } from '../../../operators/agents/agents.ts';
import { embeddedAgents, EMBEDDED_FORECAST, EMBEDDED_THESIS } from '../../../operators/agents/embedded.ts';
import { AgentError } from '../../../operators/agents/agent-error.ts';
import { fixtureColumns, mergedFixtureBars } from '../../kit/fixture-bars.ts';
import { activeSettings } from '../../kit/pipeline-kit.ts';

const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];

/** A test agent that answers like an embedded agent but records every context it was shown. */
function recording(inner: AgentPort, seen: AgentContext[]): AgentPort {
  return {
    name: inner.name,
    opinion(ctx) {
      seen.push(ctx);
      return inner.opinion(ctx);
    },
  };
}

/** Answers asynchronously after a varying number of macrotask turns, so answers finish out of order. */
function delayed(inner: AgentPort): AgentPort {
  let n = 0;
  return {
    name: inner.name,
    opinion(ctx) {
      const turns = (n++ * 7) % 5;
      const value = inner.opinion(ctx) as AgentOpinion;
      return new Promise<AgentOpinion>((resolve) => {
        const step = (k: number): void => {
          if (k === 0) resolve(value);
          else setImmediate(() => step(k - 1));
        };
        step(turns);
      });
    },
  };
}

describe('agent stage', () => {
  it('fills each signal with the opinions of every agent, in agent order, from data up to the bar', () => {
    const settings = activeSettings({ AGENTS_ENABLED: true });
    const seen: AgentContext[] = [];
    const agents = embeddedAgents(settings).map((a, i) => (i === 0 ? recording(a, seen) : a));
    const r = runBacktest({ settings, series, agents: agentStage(settings, agents), keepEvents: true });
    const signals = r.events!.filter((e): e is Signal => e.kind === 'signal');
    const asked = signals.filter((s) => s.opinions.length > 0);
    expect(asked.length).toBe(seen.length);
    expect(asked.length).toBeGreaterThan(50);
    for (const s of asked) expect(s.opinions.map((o) => o.agent)).toEqual([EMBEDDED_THESIS, EMBEDDED_FORECAST]);
    // no look-ahead: the closes shown are exactly the fixture's closes up to and including the bar
    const byTime = new Map(series.map((c) => [c.symbol, c]));
    for (const ctx of seen) {
      const c = byTime.get(ctx.symbol)!;
      const t = c.openTime.indexOf(ctx.time - c.intervalMs);
      expect(t).toBeGreaterThan(0);
      expect(ctx.closes.length).toBe(Math.min(settings.AGENT_CONTEXT_BARS, t + 1));
      expect(ctx.closes).toEqual(Array.from(c.close.subarray(t + 1 - ctx.closes.length, t + 1)));
      expect(ctx.price).toBe(c.close[t]);
      expect(ctx.position).toBe(0);
    }
  });

  it('asks only on entries: signals on a symbol with an open position pass unasked', () => {
    const settings = activeSettings({ AGENTS_ENABLED: true });
    const r = runBacktest({ settings, series, keepEvents: true });
    let positions = new Map<string, number>();
    let unasked = 0;
    for (const e of r.events!) {
      if (e.kind === 'portfolio') positions = new Map(e.positions.map((p) => [p.symbol, p.quantity]));
      if (e.kind !== 'signal') continue;
      const held = positions.get(e.symbol) ?? 0;
      expect(e.opinions.length > 0).toBe(held === 0);
      if (held !== 0) unasked++;
    }
    expect(unasked).toBeGreaterThan(0);
  });

  it('keeps event order with asynchronous agents answering out of order', async () => {
    const settings = activeSettings({ AGENTS_ENABLED: true });
    const bars = mergedFixtureBars(['BTCUSDT', 'ETHUSDT']);
    const run = (agents: AgentPort[]): Promise<PipelineEvent[]> =>
      firstValueFrom(from(bars).pipe(features(settings), momentum(settings), agentStage(settings, agents), toArray()));
    const sync = await run(embeddedAgents(settings));
    const async = await run(embeddedAgents(settings).map(delayed));
    expect(async.length).toBe(sync.length);
    expect(async).toEqual(sync);
    expect(sync.filter((e) => e.kind === 'signal' && e.opinions.length === 2).length).toBeGreaterThan(100);
  });

  it('turns a failing agent into AgentFault events; fail-open goes on without it, fail-closed refuses the entry', () => {
    const settings = activeSettings({ AGENTS_ENABLED: true, AGENT_FAILURE_POLICY: 'fail-open', COLLAB_SYMBOLS: '' });
    const broken: AgentPort = {
      name: 'broken',
      opinion() {
        throw new AgentError('http-5xx', 'model down');
      },
    };
    const rejecting: AgentPort = { name: 'rejecting', opinion: () => Promise.reject(new Error('nope')) };
    const counts = newAgentStageCounts();
    const agents = [broken, ...embeddedAgents(settings)];
    const r = runBacktest({ settings, series, agents: agentStage(settings, agents, { counts }), keepEvents: true });
    const faults = r.events!.filter((e) => e.kind === 'agent-fault');
    expect(faults.length).toBe(counts.signals);
    expect(counts.faults['broken:http-5xx']).toBe(counts.signals);
    expect(counts.without).toEqual({ broken: counts.signals });
    expect(faults[0]).toMatchObject({ agent: 'broken', fault: 'http-5xx', detail: 'model down' });
    // the fault comes right before its signal, which carries the other agents' opinions
    const i = r.events!.indexOf(faults[0]!);
    const next = r.events![i + 1]!;
    expect(next.kind === 'signal' && next.opinions.map((o) => o.agent)).toEqual([EMBEDDED_THESIS, EMBEDDED_FORECAST]);
    // fail-open: same decisions as without the broken agent
    const healthy = runBacktest({ settings: { ...settings, COLLAB_SYMBOLS: [] }, series });
    expect(r.trades.length).toBeGreaterThan(0);
    expect(r.trades).toEqual(healthy.trades);

    // fail-closed: the broken agent's stand-in blocks every entry it was asked about
    const closed = { ...settings, AGENT_FAILURE_POLICY: 'fail-closed' as const };
    const c = runBacktest({ settings: closed, series, agents: agentStage(closed, agents), keepEvents: true });
    expect(c.trades).toEqual([]);
    const denied = c.events!.find((e) => e.kind === 'signal' && e.opinions.length === 3);
    expect(denied?.kind === 'signal' && denied.opinions[0]).toMatchObject({ agent: 'broken', blocksEntry: true });

    // every agent failing under fail-open: momentum alone decides, like agents off
    return firstValueFrom(
      from(mergedFixtureBars(['BTCUSDT'])).pipe(
        features(settings),
        momentum(settings),
        agentStage(settings, [rejecting]),
        toArray(),
      ),
    ).then((events) => {
      const sigs = events.filter((e): e is Signal => e.kind === 'signal');
      expect(sigs.length).toBeGreaterThan(0);
      for (const s of sigs) expect(s.opinions).toEqual([]);
      expect(events.filter((e) => e.kind === 'agent-fault').length).toBe(sigs.length);
    });
  });
});
