import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bar, BarColumns } from '../../../pipelines/model/index.ts';
import { loadBarFile } from '../../../backtests/data/index.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterMarketStream } from '../../../live/aster/market-stream.ts';
import { KlineRowSchema } from '../../../live/aster/schemas.ts';
import { BTC, START, eventually, startPeer, type Peer } from './kit.ts';

/** The live kline parsers read order flow into Bar when the exchange sends it, and nothing when it does not. */
let AVAX: BarColumns;
beforeAll(async () => {
  AVAX = await loadBarFile('test/fixtures/flow/AVAXUSDT-1m-2023-02-01.csv');
});

let peer: Peer | undefined;
const stops: (() => void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) s();
  await peer?.sim.close();
  peer = undefined;
});

const flowOf = (c: BarColumns, i: number) => ({
  quoteVolume: c.flow!.quoteVolume[i]!,
  trades: c.flow!.trades[i]!,
  takerBuyVolume: c.flow!.takerBuyVolume[i]!,
  takerBuyQuoteVolume: c.flow!.takerBuyQuoteVolume[i]!,
});

describe('live kline parsing of order flow', () => {
  it('a documented kline row gives its four flow numbers; a row with nulls or without them gives none', () => {
    const row = [1, '2', '3', '1', '2', '10', 59_999, '20.5', 7, '4', '8.25', '0'];
    expect(KlineRowSchema.parse(row).flow).toEqual({
      quoteVolume: 20.5,
      trades: 7,
      takerBuyVolume: 4,
      takerBuyQuoteVolume: 8.25,
    });
    expect(KlineRowSchema.parse([...row.slice(0, 7), null, null, null, null, '0']).flow).toBeUndefined();
    expect(KlineRowSchema.parse(row.slice(0, 7)).flow).toBeUndefined();
  });

  it('REST klines and the kline stream (live and gap-filled bars) carry the simulator’s real flow', async () => {
    peer = await startPeer('V1', { series: [AVAX], startIndex: 100 });
    const c = new AsterRestClient({ baseUrl: peer.sim.restUrl });
    const rows = await c.klines({ symbol: 'AVAXUSDT', interval: '1m', limit: 3 });
    expect(rows.at(-1)!.flow).toEqual(flowOf(AVAX, 100));
    const stream = new AsterMarketStream({
      wsUrl: peer.sim.wsUrl,
      symbols: ['AVAXUSDT'],
      interval: '1m',
      klines: (q) => c.klines(q),
      backoffInitialMs: 200,
      backoffMaxMs: 200,
    });
    stops.push(() => stream.stop());
    const bars: Bar[] = [];
    stream.bars.subscribe((b) => bars.push(b));
    stream.seed('AVAXUSDT', AVAX.openTime[100]!);
    stream.start();
    await eventually(() => peer!.sim.state().marketSockets === 1);
    peer.sim.advance(1);
    await eventually(() => bars.length === 1);
    expect(bars[0]).toMatchObject({ openTime: AVAX.openTime[101], ...flowOf(AVAX, 101) });
    peer.sim.injectFault('drop-market-ws');
    await eventually(() => peer!.sim.state().marketSockets === 0);
    peer.sim.advance(2);
    await eventually(() => bars.length === 3);
    expect(bars[2]).toMatchObject({ openTime: AVAX.openTime[103], ...flowOf(AVAX, 103) });
  });

  it('over data without flow the bars have no flow fields', async () => {
    peer = await startPeer('V1');
    const c = new AsterRestClient({ baseUrl: peer.sim.restUrl });
    const stream = new AsterMarketStream({ wsUrl: peer.sim.wsUrl, symbols: ['BTCUSDT'], interval: '5m' });
    stops.push(() => stream.stop());
    const bars: Bar[] = [];
    stream.bars.subscribe((b) => bars.push(b));
    stream.start();
    await eventually(() => peer!.sim.state().marketSockets === 1);
    peer.sim.advance(1);
    await eventually(() => bars.length === 1);
    expect(bars[0]!.openTime).toBe(BTC.openTime[START + 1]);
    for (const k of ['quoteVolume', 'trades', 'takerBuyVolume', 'takerBuyQuoteVolume'])
      expect(bars[0]).not.toHaveProperty(k);
    expect((await c.klines({ symbol: 'BTCUSDT', interval: '5m', limit: 1 }))[0]!.flow).toBeUndefined();
  });
});
