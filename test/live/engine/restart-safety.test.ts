import { appendFileSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Order, PipelineEvent } from '../../../pipelines/model/index.ts';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { testService } from '../../kit/service-kit.ts';

const orderIds = (events: PipelineEvent[]) =>
  events.filter((e): e is Order => e.kind === 'order').map((o) => o.clientOrderId);

describe('restart safety (journal replay)', () => {
  it('a service restarted mid-run ends exactly where an uninterrupted one does, with no order sent twice', async () => {
    const straight = await testService();
    await straight.feed(500);
    const expected = {
      portfolio: straight.engine.portfolio,
      trades: straight.engine.trades.length,
      orders: orderIds(straight.sent),
    };
    await straight.close();
    expect(expected.orders.length).toBeGreaterThan(10);

    // first life: 180 bars, then the process dies (no shutdown, no flush beyond the fsyncs)
    const first = await testService();
    await first.feed(180);
    const firstOrders = orderIds(first.sent);
    first.journal.close();

    // second life: same journal; the warm-up history is older than the journal and is skipped
    const second = await testService({ journalPath: first.journalPath });
    expect(second.engine.counts.replayed).toBeGreaterThan(180);
    // replay rebuilt the state without sending anything
    expect(second.sent.filter((e) => e.kind === 'order')).toEqual([]);
    // the rest of the market, from where the first life stopped
    for (let i = 0; i < 180; i++) second.live.shift();
    await second.feed(320);
    const all = [...firstOrders, ...orderIds(second.sent)];
    expect(all).toEqual(expected.orders);
    expect(new Set(all).size).toBe(all.length);
    expect(second.engine.portfolio).toEqual(expected.portfolio);
    expect(second.engine.trades.length).toBe(expected.trades);
    await second.close();
    await first.app.close();
  });

  it('keeps an operator halt across a restart', async () => {
    const first = await testService();
    await first.engine.stop('maintenance');
    expect(first.engine.running).toBe(false);
    first.journal.close();
    const second = await testService({ journalPath: first.journalPath });
    expect(second.engine.running).toBe(false);
    expect(second.engine.riskState).toBe('HALTED');
    await second.close();
    await first.app.close();
  });

  it('drops a torn last line (a crash mid-write) and names a damaged line elsewhere', async () => {
    const first = await testService();
    await first.feed(10);
    first.journal.close();
    const lines = readFileSync(first.journalPath, 'utf8').trim().split('\n').length;
    appendFileSync(first.journalPath, '{"type":"bar","time":17380');
    const journal = new FileJournal(first.journalPath);
    expect(journal.readAll().length).toBe(lines);
    appendFileSync(first.journalPath, 'garbage\n{"type":"bar","time":1}\n');
    expect(() => journal.readAll()).toThrow(`${first.journalPath}:${lines + 1}: journal line is not JSON`);
    await first.app.close();
    await first.engine.shutdown();
  });
});
