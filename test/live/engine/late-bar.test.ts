import { afterEach, describe, expect, it } from 'vitest';
import { testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

/**
 * Live bars of several symbols are released in time order, but a symbol whose bar is later than
 * the grace period (a slow REST gap fill after a reconnect, a loaded machine) can arrive after a
 * newer bar of another symbol was taken. The portfolio refuses time going backwards, so taking it
 * stopped the whole pipeline (INVARIANT_TIME_BACKWARDS, seen in the paper service at 15 ms per
 * bar). It is left out and said so; the pipeline goes on.
 */
describe('a late bar of one symbol (live feed)', () => {
  it('is left out with a clear last_error instead of stopping the pipeline', async () => {
    service = await testService();
    await service.feed(20);
    // the feed's next bars, one symbol's newer bar first, then the other symbol's older one
    const i = service.live.findIndex((b, k) => k > 20 && b.symbol === 'ETHUSDT');
    const ethNewer = service.live.slice(i).find((b) => b.symbol === 'ETHUSDT' && b.time > service!.live[i]!.time)!;
    const btcOlder = service.live.find((b) => b.symbol === 'BTCUSDT' && b.time === service!.live[i]!.time)!;
    expect(btcOlder.time).toBeLessThan(ethNewer.time);
    service.market.next(ethNewer);
    service.market.next(btcOlder);
    await service.engine.idle();

    expect(service.engine.failure).toBeNull();
    expect(service.engine.lateBars).toBe(1);
    expect(service.engine.lastError).toMatch(
      /^market feed: BTCUSDT bar \S+ arrived after a newer bar \S+ and was left out/,
    );
    // the journal never holds the left-out bar: a replay takes what the live run took
    const journaled = service.journal
      .readSinceSnapshot()
      .entries.filter(
        (e) => e.type === 'bar' && (e.data as { symbol: string }).symbol === 'BTCUSDT' && e.time === btcOlder.time,
      );
    expect(journaled).toHaveLength(0);
    // and trading goes on: the next bars of both symbols are taken
    const later = service.live.filter((b) => b.time > ethNewer.time).slice(0, 4);
    for (const b of later) service.market.next(b);
    await service.engine.idle();
    expect(service.engine.failure).toBeNull();
    expect(service.engine.lastBarTime).toBe(later.at(-1)!.time);
  });
});
