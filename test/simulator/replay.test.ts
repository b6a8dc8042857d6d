import { describe, expect, it } from 'vitest';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { Replay, klines, type Kline } from '../../simulator/replay.ts';

const BTC = fixtureColumns('BTCUSDT');
const ETH = fixtureColumns('ETHUSDT');

/** the obvious reference: bucket every released bar, then filter and cut */
function naive(last: number, iv: number, start: number | undefined, end: number | undefined, limit: number): Kline[] {
  const m = new Map<number, Kline>();
  for (let i = 0; i <= last; i++) {
    const b = Math.floor(BTC.openTime[i]! / iv) * iv;
    const k = m.get(b);
    if (!k)
      m.set(b, {
        openTime: b,
        closeTime: b + iv - 1,
        open: BTC.open[i]!,
        high: BTC.high[i]!,
        low: BTC.low[i]!,
        close: BTC.close[i]!,
        volume: BTC.volume[i]!,
        count: 1,
      });
    else {
      k.high = Math.max(k.high, BTC.high[i]!);
      k.low = Math.min(k.low, BTC.low[i]!);
      k.close = BTC.close[i]!;
      k.volume += BTC.volume[i]!;
      k.count++;
    }
  }
  let rows = [...m.values()];
  if (start !== undefined) rows = rows.filter((k) => k.openTime >= start);
  if (end !== undefined) rows = rows.filter((k) => k.openTime <= end);
  return start !== undefined ? rows.slice(0, limit) : rows.slice(Math.max(0, rows.length - limit));
}

describe('replay and klines', () => {
  it('klines equal the naive aggregation of released bars for many windows', () => {
    for (const last of [0, 5, 11, 12, 200, 777, BTC.length - 1])
      for (const iv of [300_000, 900_000, 3_600_000, 14_400_000])
        for (const limit of [1, 3, 500])
          for (const start of [undefined, BTC.openTime[3]! + 1, BTC.openTime[150]!]) {
            const got = klines(BTC, last, iv, start, undefined, limit);
            const want = naive(last, iv, start, undefined, limit);
            expect(got.map((k) => [k.openTime, k.close, k.count])).toEqual(
              want.map((k) => [k.openTime, k.close, k.count]),
            );
            for (let j = 0; j < got.length; j++) {
              expect(got[j]!.high).toBe(want[j]!.high);
              expect(got[j]!.low).toBe(want[j]!.low);
              expect(got[j]!.volume).toBeCloseTo(want[j]!.volume, 6);
            }
          }
  });

  it('steps all series one interval at a time and stops at the end of data', () => {
    const r = new Replay([BTC, ETH], 300_000, 10);
    const first = r.releaseToCursor();
    expect(first).toHaveLength(22); // bars 0..10 of both
    expect(r.lastIndex('BTCUSDT')).toBe(10);
    const next = r.step();
    expect(next.map((x) => [x.series.symbol, x.index])).toEqual([
      ['BTCUSDT', 11],
      ['ETHUSDT', 11],
    ]);
    expect(r.cursorTime).toBe(BTC.openTime[11]! + 300_000);
    let steps = 0;
    while (r.step().length > 0 && steps < 10_000) steps++;
    expect(r.done()).toBe(true);
    expect(r.lastIndex('ETHUSDT')).toBe(ETH.length - 1);
    expect(r.step()).toEqual([]);
  });
});
