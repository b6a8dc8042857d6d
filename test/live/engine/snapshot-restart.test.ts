import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Order, PipelineEvent } from '../../../pipelines/model/index.ts';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { testService } from '../../kit/service-kit.ts';

const orderIds = (events: PipelineEvent[]) =>
  events.filter((e): e is Order => e.kind === 'order').map((o) => o.clientOrderId);
const EVERY = { JOURNAL_SNAPSHOT_EVERY: 50 };

describe('restart from a journal snapshot (issue 13, issue 14 item 10)', () => {
  it('restores the last snapshot, replays only what follows, and goes on exactly as an uninterrupted run', async () => {
    const straight = await testService({ settings: EVERY });
    await straight.feed(500);
    const expected = {
      portfolio: straight.engine.portfolio,
      trades: straight.engine.trades.map((t) => `${t.symbol}@${t.time}`),
      orders: orderIds(straight.sent),
    };
    await straight.close();
    expect(expected.orders.length).toBeGreaterThan(10);

    // first life: 180 bars, then the process dies (no shutdown)
    const first = await testService({ settings: EVERY });
    await first.feed(180);
    const firstOrders = orderIds(first.sent);
    first.journal.close();
    const tail = new FileJournal(first.journalPath).readSinceSnapshot();
    expect(tail.snapshot).not.toBeNull();
    expect(tail.entries.length).toBeLessThan(EVERY.JOURNAL_SNAPSHOT_EVERY);

    const second = await testService({ journalPath: first.journalPath, settings: EVERY });
    // only the entries after the snapshot were replayed, and nothing was sent
    expect(second.engine.counts.replayed).toBe(tail.entries.length);
    expect(second.sent.filter((e) => e.kind === 'order')).toEqual([]);
    // the read models came back with the snapshot
    expect(second.engine.portfolio).toEqual(first.engine.portfolio);
    expect(second.engine.trades).toEqual(first.engine.trades);
    for (let i = 0; i < 180; i++) second.live.shift();
    await second.feed(320);
    const all = [...firstOrders, ...orderIds(second.sent)];
    expect(all).toEqual(expected.orders);
    expect(new Set(all).size).toBe(all.length);
    expect(second.engine.portfolio).toEqual(expected.portfolio);
    expect(second.engine.trades.map((t) => `${t.symbol}@${t.time}`)).toEqual(expected.trades);
    await second.close();
    await first.app.close();
  });

  it('refuses a journal written with other strategy settings, naming the setting, both values and the way out', async () => {
    const first = await testService({ settings: EVERY });
    await first.feed(60);
    first.journal.close();
    const threshold = first.settings.MOMENTUM_THRESHOLD;
    await expect(
      testService({ journalPath: first.journalPath, settings: { ...EVERY, MOMENTUM_THRESHOLD: threshold * 2 } }),
    ).rejects.toThrow(
      new RegExp(
        `journal\\.jsonl:\\d+: the journal was written with other strategy settings or code \\(MOMENTUM_THRESHOLD ${threshold} → ${threshold * 2}\\).*--from-exchange`,
      ),
    );
    // nothing was appended by the refused start
    expect(new FileJournal(first.journalPath).readSinceSnapshot().snapshot).not.toBeNull();
    expect(readdirSync(dirname(first.journalPath)).filter((f) => f.includes('superseded'))).toEqual([]);
    await first.app.close();
  });

  it('an external decision reports its own outcome, not a denial of a bar processed in the same window', async () => {
    const s = await testService();
    await s.feed(40);
    await s.engine.stop('maintenance');
    const before = s.engine.denials.length;
    // bars that arrive while the decision waits its turn are processed in its collecting window
    const outcome = s.engine.submitDecision({ symbol: 'BTCUSDT', action: 'enter-long', confidence: 0.9, reason: 't' });
    for (let i = 40; i < 240; i++) s.market.next(s.live[i]!);
    const result = await outcome;
    await s.engine.idle();
    const strategyDenials = s.engine.denials.slice(before).filter((d) => d.decisionSeq < 1_000_000_000);
    expect(strategyDenials.length).toBeGreaterThan(0);
    const seqs = result.events.flatMap((e) =>
      e.kind === 'denied' || e.kind === 'intent' ? [e.decisionSeq] : e.kind === 'decision' ? [e.seq] : [],
    );
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs.every((q) => q >= 1_000_000_000)).toBe(true);
    expect(result.events.some((e) => e.kind === 'bar' || e.kind === 'portfolio')).toBe(false);
    await s.close();
  });
});
