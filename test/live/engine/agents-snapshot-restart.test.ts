import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AgentOpinion, Order, PipelineEvent } from '../../../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../../../pipelines/ports.ts';
import { agentStage } from '../../../operators/agents/agents.ts';
import { AGENT_STATE } from '../../../operators/agents/agent-state.ts';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { testService } from '../../kit/service-kit.ts';
import { until } from '../../../soak/kit.ts';

/**
 * Issue 14 item 10 with agents: a kernel with the agent stage takes snapshots too (its recent
 * closes are in them), only while no agent ask is pending, and the agent settings that change
 * decisions are in the settings fingerprint.
 */

const orderIds = (events: PipelineEvent[]) =>
  events.filter((e): e is Order => e.kind === 'order').map((o) => o.clientOrderId);
const AGENTS = { AGENTS_ENABLED: true, AGENT_CONTEXT_BARS: 64, JOURNAL_SNAPSHOT_EVERY: 50 };

const snapshotLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"type":"snapshot"'));
const barLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"type":"bar"')).length;

describe('restart from a snapshot with the embedded agents (paper)', () => {
  it('restores the agent stage with the other stages and decides exactly as an uninterrupted run', async () => {
    const straight = await testService({ settings: AGENTS });
    await straight.feed(500);
    const decisions = (d: readonly { time: number; symbol: string; action: string }[]) =>
      d.map((x) => `${x.symbol}@${x.time}:${x.action}`);
    const expected = {
      portfolio: straight.engine.portfolio,
      trades: straight.engine.trades.map((t) => `${t.symbol}@${t.time}`),
      orders: orderIds(straight.sent),
      decisions: decisions(straight.engine.decisions),
      opinions: straight.sent.filter((e) => e.kind === 'signal' && e.opinions.length > 0).length,
    };
    await straight.close();
    expect(expected.orders.length).toBeGreaterThan(5);
    // the agents were asked (and their opinions reached consensus)
    expect(expected.opinions).toBeGreaterThan(0);

    const first = await testService({ settings: AGENTS });
    await first.feed(180);
    const firstOrders = orderIds(first.sent);
    first.journal.close();
    const tail = new FileJournal(first.journalPath).readSinceSnapshot();
    expect(tail.snapshot).not.toBeNull();
    expect(tail.entries.length).toBeLessThan(AGENTS.JOURNAL_SNAPSHOT_EVERY);
    // the agent stage's recent closes are in the snapshot, AGENT_CONTEXT_BARS of them per symbol
    const states = JSON.parse(tail.snapshot!.states) as Record<string, { closes: [string, number[]][] } | null>;
    const agentState = states[AGENT_STATE];
    expect(agentState?.closes.map(([s]) => s).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    for (const [, closes] of agentState!.closes) expect(closes.length).toBe(AGENTS.AGENT_CONTEXT_BARS);

    const second = await testService({ journalPath: first.journalPath, settings: AGENTS });
    expect(second.engine.counts.replayed).toBe(tail.entries.length);
    expect(second.sent.filter((e) => e.kind === 'order')).toEqual([]);
    for (let i = 0; i < 180; i++) second.live.shift();
    await second.feed(320);
    const all = [...firstOrders, ...orderIds(second.sent)];
    expect(all).toEqual(expected.orders);
    expect(second.engine.portfolio).toEqual(expected.portfolio);
    expect(second.engine.trades.map((t) => `${t.symbol}@${t.time}`)).toEqual(expected.trades);
    expect(decisions(second.engine.decisions)).toEqual(expected.decisions);
    await second.close();
    await first.app.close();
  });

  it('refuses a journal written with other agent settings, naming the setting', async () => {
    const first = await testService({ settings: AGENTS });
    await first.feed(60);
    first.journal.close();
    await expect(
      testService({ journalPath: first.journalPath, settings: { ...AGENTS, AGENT_FAILURE_POLICY: 'fail-open' } }),
    ).rejects.toThrow(/other strategy settings or code \(AGENT_FAILURE_POLICY "fail-closed" → "fail-open"\)/);
    await expect(
      testService({ journalPath: first.journalPath, settings: { ...AGENTS, AGENT_CONTEXT_BARS: 32 } }),
    ).rejects.toThrow(/AGENT_CONTEXT_BARS 64 → 32/);
    await expect(
      testService({ journalPath: first.journalPath, settings: { ...AGENTS, AGENTS_ENABLED: false } }),
    ).rejects.toThrow(/AGENTS_ENABLED true → false/);
    await first.app.close();
  });

  it('takes no snapshot while an agent ask is pending, and one once it is answered', async () => {
    // a remote-like agent: it answers when the test says so
    const waiting: ((o: AgentOpinion) => void)[] = [];
    const slow: AgentPort = {
      name: 'slow',
      opinion: (ctx: AgentContext) =>
        new Promise<AgentOpinion>((resolve) => {
          waiting.push(resolve);
          void ctx;
        }),
    };
    const settings = { ...AGENTS, JOURNAL_SNAPSHOT_EVERY: 10 };
    const s = await testService({
      settings,
      engine: {
        agents: agentStage({ AGENT_CONTEXT_BARS: 64, AGENT_FAILURE_POLICY: 'fail-closed', COLLAB_SYMBOLS: [] }, [slow]),
      },
    });
    const answer = () => {
      for (const resolve of waiting.splice(0))
        resolve({
          agent: 'slow',
          direction: 0,
          confidence: 0,
          riskScore: 1,
          accepted: false,
          blocksEntry: true,
          summary: 'no',
        });
    };
    // bars until an ask is pending
    let fed = 0;
    while (waiting.length === 0 && fed < 400) {
      await s.feed(1);
      fed++;
    }
    expect(waiting.length).toBeGreaterThan(0);
    const before = snapshotLines(s.journalPath).length;
    const barsBefore = barLines(s.journalPath);
    // far more than JOURNAL_SNAPSHOT_EVERY inputs while the ask is pending: no snapshot
    for (let i = 0; i < 30; i++) s.market.next(s.live[fed + i]!);
    // every one of them journaled and pushed (the ask holds events back, not inputs)
    await s.engine.idle();
    expect(barLines(s.journalPath)).toBe(barsBefore + 30);
    expect(snapshotLines(s.journalPath).length).toBe(before);
    answer();
    // answered: the overdue snapshot is taken once the held-back events are out, before any input
    await until(
      'the overdue snapshot',
      () => (snapshotLines(s.journalPath).length > before ? true : undefined),
      10_000,
      5,
    );
    await s.engine.idle();
    expect(snapshotLines(s.journalPath).length).toBe(before + 1);
    answer();
    await s.close();
  });
});
