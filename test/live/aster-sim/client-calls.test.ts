import { afterEach, describe, expect, it } from 'vitest';
import { generatePrivateKey } from 'viem/accounts';
import { asterFilters } from '../../../pipelines/instruments.ts';
import { AsterApiError, AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterUserStream, type OrderUpdate, type UserEvent } from '../../../live/aster/user-stream.ts';
import { BTC, ETH, START, eventually, exchangeClientIds, startPeer, type Peer, type Version } from './kit.ts';

let peer: Peer | undefined;
let stream: AsterUserStream | undefined;
afterEach(async () => {
  await stream?.stop();
  stream = undefined;
  await peer?.sim.close();
  peer = undefined;
});

const LAST_CLOSE = BTC.close[START]!;
/** 1 % below / above the last close, on the 0.1 tick: inside PERCENT_PRICE (±2 %) */
const below = Math.floor(LAST_CLOSE * 0.99 * 10) / 10;
const above = Math.ceil(LAST_CLOSE * 1.01 * 10) / 10;

describe.each<Version>(['V1', 'V3'])('Aster client against the simulator, %s signing', (version) => {
  it('market data: time, exchangeInfo, klines, premiumIndex, fundingRate, ticker, depth', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    const before = Date.now();
    const t = await c.time();
    expect(t).toBeGreaterThanOrEqual(before - 1000);
    const sync = await c.syncTime();
    expect(Math.abs(sync.offsetMs)).toBeLessThan(1000);

    const info = await c.exchangeInfo();
    expect(info.get('BTCUSDT')).toEqual(asterFilters().get('BTCUSDT'));
    expect((await c.filters('ETHUSDT')).tickSize).toBe(asterFilters().get('ETHUSDT')!.tickSize);

    // the last 10 closed bars are the fixture's real bars up to START
    const k = await c.klines({ symbol: 'ETHUSDT', interval: '5m', limit: 10 });
    expect(k.map((x) => x.openTime)).toEqual(Array.from(ETH.openTime.subarray(START - 9, START + 1)));
    expect(k.map((x) => x.close)).toEqual(Array.from(ETH.close.subarray(START - 9, START + 1)));
    const hour = await c.klines({ symbol: 'BTCUSDT', interval: '1h', startTime: BTC.openTime[0]!, limit: 2 });
    expect(hour[0]!.open).toBe(BTC.open[0]);
    expect(hour[0]!.close).toBe(BTC.close[11]);
    expect(hour[0]!.high).toBe(Math.max(...BTC.high.subarray(0, 12)));

    const mark = await c.premiumIndex('BTCUSDT');
    expect(mark.symbol).toBe('BTCUSDT');
    expect(mark.markPrice).toBeGreaterThan(LAST_CLOSE * 0.98);
    expect(mark.markPrice).toBeLessThan(LAST_CLOSE * 1.02);
    peer.sim.advance(100); // past an 8 h funding time
    const funding = await c.fundingRate({ symbol: 'BTCUSDT' });
    expect(funding.length).toBeGreaterThan(0);
    expect(funding.every((f) => f.symbol === 'BTCUSDT' && Number.isFinite(f.fundingRate))).toBe(true);

    const ticker = await c.ticker24h('BTCUSDT');
    expect(ticker.lastPrice).toBe(BTC.close[START + 100]);
    const depth = await c.depth('BTCUSDT', 5);
    expect(depth.bids.length).toBe(5);
    expect(depth.asks.length).toBe(5);
    expect(depth.bids[0]![0]).toBeLessThan(depth.asks[0]![0]);
    expect(c.weight).toBeGreaterThan(0);
  });

  it('orders: every type, query, open orders, cancel, cancel-all; account, balance, positions, leverage, commission', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    expect((await c.changeLeverage('BTCUSDT', 10)).leverage).toBe(10);
    const fee = await c.commissionRate('BTCUSDT');
    expect(fee.takerCommissionRate).toBeGreaterThan(0);

    const buy = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.0025, // floored to the 0.001 step before sending
      newClientOrderId: `${version}-mkt-1`,
      newOrderRespType: 'RESULT',
    });
    expect(buy.status).toBe('accepted');
    if (buy.status !== 'accepted') return;
    expect(buy.order.status).toBe('FILLED');
    expect(buy.order.executedQty).toBe(0.002);
    expect(Math.abs(buy.order.avgPrice! - LAST_CLOSE)).toBeLessThanOrEqual(0.1 + 1e-9); // best ask, one tick at most

    const pos = await c.positionRisk('BTCUSDT');
    expect(pos.find((p) => p.symbol === 'BTCUSDT')!.positionAmt).toBe(0.002);
    const bal = await c.balance();
    const usdt = bal.find((b) => b.asset === 'USDT')!;
    expect(usdt.balance).toBeLessThan(10_000); // the taker fee was paid
    const acct = await c.account();
    expect(acct.positions?.some((p) => p.symbol === 'BTCUSDT' && p.positionAmt === 0.002)).toBe(true);

    const limit = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: 0.002,
      price: below,
      newClientOrderId: `${version}-lmt-1`,
    });
    expect(limit).toMatchObject({ status: 'accepted', order: { status: 'NEW', price: below } });
    const stop = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      stopPrice: below,
      quantity: 0.002,
      reduceOnly: true,
      newClientOrderId: `${version}-stop-1`,
    });
    expect(stop).toMatchObject({ status: 'accepted', order: { status: 'NEW', type: 'STOP_MARKET' } });
    const tp = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'TAKE_PROFIT_MARKET',
      stopPrice: above,
      closePosition: true,
      newClientOrderId: `${version}-tp-1`,
    });
    expect(tp).toMatchObject({ status: 'accepted', order: { status: 'NEW', closePosition: true } });
    const trail = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'TRAILING_STOP_MARKET',
      quantity: 0.002,
      callbackRate: 1,
      reduceOnly: true,
      newClientOrderId: `${version}-trail-1`,
    });
    expect(trail).toMatchObject({ status: 'accepted', order: { status: 'NEW', type: 'TRAILING_STOP_MARKET' } });
    const stopLimit = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP',
      stopPrice: below,
      price: below,
      quantity: 0.001,
      reduceOnly: true,
      newClientOrderId: `${version}-stoplmt-1`,
    });
    expect(stopLimit).toMatchObject({ status: 'accepted', order: { status: 'NEW', type: 'STOP', stopPrice: below } });
    const tpLimit = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'TAKE_PROFIT',
      stopPrice: above,
      price: above,
      quantity: 0.001,
      reduceOnly: true,
      newClientOrderId: `${version}-tplmt-1`,
    });
    expect(tpLimit).toMatchObject({ status: 'accepted', order: { status: 'NEW', type: 'TAKE_PROFIT' } });
    // an order the filters refuse is never sent
    const tiny = await c.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: 0.0004,
      newClientOrderId: `${version}-tiny`,
    });
    expect(tiny).toMatchObject({ status: 'rejected', stage: 'precision' });

    const q = await c.queryOrder({ symbol: 'BTCUSDT', origClientOrderId: `${version}-lmt-1` });
    expect(q).toMatchObject({ status: 'NEW', type: 'LIMIT', side: 'BUY', origQty: 0.002 });
    const open = await c.openOrders('BTCUSDT');
    expect(open.map((o) => o.clientOrderId).sort()).toEqual(
      [
        `${version}-lmt-1`,
        `${version}-stop-1`,
        `${version}-tp-1`,
        `${version}-trail-1`,
        `${version}-stoplmt-1`,
        `${version}-tplmt-1`,
      ].sort(),
    );
    const canceled = await c.cancelOrder({ symbol: 'BTCUSDT', origClientOrderId: `${version}-lmt-1` });
    expect(canceled.status).toBe('CANCELED');
    expect(Number((await c.cancelAllOpenOrders('BTCUSDT')).code)).toBe(200);
    expect(await c.openOrders()).toEqual([]);
    // what the exchange holds: each intent once, the refused one never
    expect(exchangeClientIds(peer).sort()).toEqual(
      [
        `${version}-mkt-1`,
        `${version}-lmt-1`,
        `${version}-stop-1`,
        `${version}-tp-1`,
        `${version}-trail-1`,
        `${version}-stoplmt-1`,
        `${version}-tplmt-1`,
      ].sort(),
    );
  });

  it('wrong credentials: the exchange refuses the signature, the client reports it, nothing is placed', async () => {
    peer = await startPeer(version);
    const o = peer.clientOptions;
    const creds = o.credentials!;
    const wrong = new AsterRestClient({
      ...o,
      credentials:
        creds.kind === 'hmac'
          ? { ...creds, secretKey: `${creds.secretKey}-wrong` }
          : { ...creds, privateKey: generatePrivateKey() }, // a signer the exchange does not know
    });
    const r = await wrong.newOrder(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.002, newClientOrderId: `${version}-bad-sig` },
      { markPrice: LAST_CLOSE },
    );
    expect(r).toMatchObject({ status: 'rejected', stage: 'exchange' });
    if (r.status === 'rejected') expect(r.code).toBeLessThan(0);
    // the error text carries no secret
    if (r.status === 'rejected' && creds.kind === 'hmac') expect(r.reason).not.toContain(creds.secretKey);
    await expect(wrong.balance()).rejects.toBeInstanceOf(AsterApiError);
    expect(exchangeClientIds(peer)).toEqual([]);
  });

  it('listenKey create / keep-alive / close, and the user stream delivers ORDER_TRADE_UPDATE for a fill', async () => {
    peer = await startPeer(version);
    const c = peer.client;
    const key = await c.createListenKey();
    expect(key.length).toBeGreaterThan(10);
    await c.keepAliveListenKey();
    await c.closeListenKey();
    await expect(c.keepAliveListenKey()).rejects.toMatchObject({ exchangeCode: -1125 });

    stream = new AsterUserStream({ wsUrl: peer.sim.wsUrl, rest: c });
    const events: UserEvent[] = [];
    stream.events.subscribe((e) => events.push(e));
    let connected = 0;
    stream.status.subscribe((s) => {
      if (s.kind === 'connected') connected++;
    });
    await stream.start();
    await eventually(() => connected === 1 && peer!.sim.state().userSockets === 1);
    const r = await c.newOrder({
      symbol: 'ETHUSDT',
      side: 'SELL',
      type: 'MARKET',
      quantity: 0.05,
      newClientOrderId: `${version}-ws-1`,
    });
    expect(r.status).toBe('accepted');
    await eventually(() =>
      events.some((e) => e.kind === 'order-update' && e.clientOrderId === `${version}-ws-1` && e.status === 'FILLED'),
    );
    const fill = events.find((e): e is OrderUpdate => e.kind === 'order-update' && e.status === 'FILLED')!;
    expect(fill).toMatchObject({ symbol: 'ETHUSDT', side: 'SELL', cumQty: 0.05 });
    // a market sell fills at the best bid: the last real close rounded down to the 0.1 tick
    expect(Math.abs(fill.lastPrice - ETH.close[START]!)).toBeLessThanOrEqual(0.1 + 1e-9);
    expect(events.some((e) => e.kind === 'account-update')).toBe(true);
  });
});
