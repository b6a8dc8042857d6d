import { afterEach, describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { asterExecutionPort, type ExecutionIssue } from '../../../live/aster/aster-execution-port.ts';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { AsterUserStream, parseUserEvent, type UserEvent } from '../../../live/aster/user-stream.ts';
import type { Bar, Order } from '../../../pipelines/model/index.ts';
import type { VenueEvent } from '../../../pipelines/ports.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { EXCHANGE_INFO, RestPeer, orderReply } from './kit/rest-peer.ts';
import { orderTradeUpdate } from './kit/user-frames.ts';
import { WsPeer, waitFor } from './kit/ws-peer.ts';

const BTC = fixtureBars('BTCUSDT');
const HMAC = {
  kind: 'hmac' as const,
  apiKey: 'dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83',
  secretKey: '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9',
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function order(patch: Partial<Order> & Pick<Order, 'clientOrderId'>): Order {
  const bar = BTC[0]!;
  return {
    kind: 'order',
    time: bar.time,
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'MARKET',
    quantity: 0.0025,
    reduceOnly: false,
    stopPrice: 0,
    refPrice: bar.close,
    maxSlippageBps: 0,
    reason: 'entry',
    ...patch,
  };
}

async function setup() {
  const rest = await new RestPeer(HMAC).start();
  cleanups.push(() => rest.stop());
  rest
    .on('GET', '/fapi/v1/exchangeInfo', () => ({ body: EXCHANGE_INFO }))
    .on('POST', '/fapi/v1/order', (r) => ({ body: orderReply(r.params) }))
    .on('DELETE', '/fapi/v1/order', (r) => ({
      body: orderReply({ ...r.params, type: 'STOP_MARKET', side: 'SELL' }, 'CANCELED'),
    }));
  const client = new AsterRestClient({ baseUrl: rest.url, credentials: HMAC });
  const user = new Subject<UserEvent>();
  const issues: ExecutionIssue[] = [];
  const port = asterExecutionPort({ client, userEvents: user, onIssue: (i) => issues.push(i) });
  const bars = new Subject<Bar>();
  const orders = new Subject<Order>();
  const out: (Bar | VenueEvent)[] = [];
  const sub = bars.pipe(port.attach(orders)).subscribe((e) => out.push(e));
  cleanups.push(() => sub.unsubscribe());
  const push = (frame: unknown): void => {
    const r = parseUserEvent(JSON.stringify(frame));
    if (!r.ok) throw new Error(r.detail);
    user.next(r.event);
  };
  return { rest, bars, orders, out, push, issues };
}

describe('asterExecutionPort', () => {
  it('sends a MARKET order with its client id; user-stream trades become Fills between bars, once each', async () => {
    const { rest, bars, orders, out, push } = await setup();
    bars.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'bot-1-BTC-1' }));
    await waitFor(() => rest.count('POST', '/fapi/v1/order') === 1);
    const p = rest.requests.find((r) => r.method === 'POST')!.params;
    expect(p).toMatchObject({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.002',
      newClientOrderId: 'bot-1-BTC-1',
    });
    const bar1 = BTC[1]!;
    const frame = orderTradeUpdate({
      bar: BTC[0]!,
      clientOrderId: 'bot-1-BTC-1',
      side: 'BUY',
      qty: 0.002,
      lastQty: 0.002,
      cumQty: 0.002,
      price: bar1.open,
      commission: 0.002 * bar1.open * 0.00035,
      tradeTime: BTC[0]!.time + 800,
    });
    push(frame);
    push(frame); // redelivered after a reconnect
    bars.next(bar1);
    expect(out).toEqual([
      BTC[0],
      {
        kind: 'fill',
        time: BTC[0]!.time + 800,
        symbol: 'BTCUSDT',
        clientOrderId: 'bot-1-BTC-1',
        side: 'BUY',
        quantity: 0.002,
        price: bar1.open,
        fee: 0.002 * bar1.open * 0.00035,
        liquidity: 'taker',
        reason: 'entry',
      },
      bar1,
    ]);
  });

  it('an order that cannot be made (precision) is an OrderRejected with the reason, and is never sent', async () => {
    const { rest, bars, orders, out } = await setup();
    bars.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'tiny', quantity: 0.0004 }));
    await waitFor(() => out.length === 2);
    expect(out[1]).toMatchObject({ kind: 'order-rejected', clientOrderId: 'tiny', time: BTC[0]!.time });
    expect((out[1] as { reason: string }).reason).toMatch(/^precision: quantity 0.0004 floors to 0/);
    expect(rest.count('POST', '/fapi/v1/order')).toBe(0);
  });

  it('an exchange refusal is an OrderRejected carrying the exchange code', async () => {
    const { rest, bars, orders, out } = await setup();
    rest.on('POST', '/fapi/v1/order', () => ({ status: 400, body: { code: -2019, msg: 'Margin is insufficient.' } }));
    bars.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'm1' }));
    await waitFor(() => out.length === 2);
    expect(out[1]).toMatchObject({ kind: 'order-rejected', reason: 'exchange: -2019 Margin is insufficient.' });
  });

  it('a slippage-guarded MARKET goes as LIMIT IOC at the guard price; an unfilled expiry is a rejection', async () => {
    const { rest, bars, orders, out, push } = await setup();
    const bar = BTC[0]!;
    bars.next(bar);
    orders.next(order({ clientOrderId: 'g1', maxSlippageBps: 10 }));
    await waitFor(() => rest.count('POST', '/fapi/v1/order') === 1);
    const p = rest.requests.find((r) => r.method === 'POST')!.params;
    expect(p.type).toBe('LIMIT');
    expect(p.timeInForce).toBe('IOC');
    expect(Number(p.price)).toBeLessThanOrEqual(bar.close * 1.001);
    expect(Number(p.price)).toBeGreaterThan(bar.close * 1.001 - 0.1);
    push(
      orderTradeUpdate({
        bar,
        clientOrderId: 'g1',
        side: 'BUY',
        type: 'LIMIT',
        qty: 0.002,
        lastQty: 0,
        cumQty: 0,
        price: 0,
        x: 'EXPIRED',
        X: 'EXPIRED',
      }),
    );
    expect(out[1]).toMatchObject({ kind: 'order-rejected', clientOrderId: 'g1' });
    expect((out[1] as { reason: string }).reason).toContain('slippage guard');
  });

  it('protective orders: closePosition stop; a new stop replaces the old one (placed, then old cancelled, no rejection)', async () => {
    const { rest, bars, orders, out, push } = await setup();
    const bar = BTC[0]!;
    bars.next(bar);
    orders.next(
      order({
        clientOrderId: 'stop-1',
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: 0,
        stopPrice: bar.low,
        reason: 'stop',
      }),
    );
    await waitFor(() => rest.count('POST', '/fapi/v1/order') === 1);
    expect(rest.requests.at(-1)!.params).toMatchObject({
      type: 'STOP_MARKET',
      closePosition: 'true',
      stopPrice: String(bar.low),
    });
    expect(rest.requests.at(-1)!.params.quantity).toBeUndefined();
    orders.next(
      order({
        clientOrderId: 'stop-2',
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: 0,
        stopPrice: BTC[1]!.low,
        reason: 'trailing-stop',
      }),
    );
    await waitFor(() => rest.count('DELETE', '/fapi/v1/order') === 1);
    const posts = rest.requests.filter((r) => r.method === 'POST' || r.method === 'DELETE');
    expect(posts.map((r) => `${r.method} ${r.params.newClientOrderId ?? r.params.origClientOrderId}`)).toEqual([
      'POST stop-1',
      'POST stop-2',
      'DELETE stop-1',
    ]);
    push(
      orderTradeUpdate({
        bar,
        clientOrderId: 'stop-1',
        side: 'SELL',
        type: 'STOP_MARKET',
        qty: 0,
        lastQty: 0,
        cumQty: 0,
        price: 0,
        x: 'CANCELED',
        X: 'CANCELED',
      }),
    );
    expect(out.filter((e) => e.kind === 'order-rejected')).toEqual([]);
    // the trailing stop triggers: its fill carries the order's reason
    push(
      orderTradeUpdate({
        bar: BTC[2]!,
        clientOrderId: 'stop-2',
        side: 'SELL',
        type: 'STOP_MARKET',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: BTC[2]!.low,
      }),
    );
    expect(out.at(-1)).toMatchObject({ kind: 'fill', clientOrderId: 'stop-2', reason: 'trailing-stop', side: 'SELL' });
  });

  it('when the take-profit closes the position, the stop left at the exchange is cancelled (it must not close the next position)', async () => {
    const { rest, bars, orders, out, push } = await setup();
    const bar = BTC[0]!;
    bars.next(bar);
    const protect = (id: string, type: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET', stopPrice: number) =>
      orders.next(
        order({
          clientOrderId: id,
          side: 'SELL',
          type,
          quantity: 0,
          stopPrice,
          reason: type === 'STOP_MARKET' ? 'stop' : 'take-profit',
        }),
      );
    protect('stop-1', 'STOP_MARKET', bar.low);
    protect('tp-1', 'TAKE_PROFIT_MARKET', bar.high * 1.01);
    await waitFor(() => rest.count('POST', '/fapi/v1/order') === 2);
    expect(rest.count('DELETE', '/fapi/v1/order')).toBe(0);
    push(
      orderTradeUpdate({
        bar: BTC[3]!,
        clientOrderId: 'tp-1',
        side: 'SELL',
        type: 'TAKE_PROFIT_MARKET',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: bar.high * 1.01,
      }),
    );
    await waitFor(() => rest.count('DELETE', '/fapi/v1/order') === 1);
    expect(rest.requests.filter((r) => r.method === 'DELETE').map((r) => r.params.origClientOrderId)).toEqual([
      'stop-1',
    ]);
    // the exchange confirms the cancel: that is not a rejection of anything the pipeline waits for
    push(
      orderTradeUpdate({
        bar: BTC[3]!,
        clientOrderId: 'stop-1',
        side: 'SELL',
        type: 'STOP_MARKET',
        qty: 0,
        lastQty: 0,
        cumQty: 0,
        price: 0,
        x: 'CANCELED',
        X: 'CANCELED',
      }),
    );
    expect(out.filter((e) => e.kind === 'order-rejected')).toEqual([]);
    expect(out.filter((e) => e.kind === 'fill').map((e) => (e.kind === 'fill' ? e.reason : ''))).toEqual([
      'take-profit',
    ]);
  });

  it('fill times never go behind the last event passed on; foreign fills are passed on and reported', async () => {
    const { bars, out, push, issues } = await setup();
    bars.next(BTC[0]!);
    bars.next(BTC[1]!);
    push(
      orderTradeUpdate({
        bar: BTC[0]!,
        clientOrderId: 'manual-7',
        side: 'SELL',
        qty: 0.003,
        lastQty: 0.003,
        cumQty: 0.003,
        price: BTC[0]!.close,
        tradeTime: BTC[0]!.time + 5,
      }),
    );
    expect(out.at(-1)).toMatchObject({ kind: 'fill', time: BTC[1]!.time, reason: 'entry' });
    expect(issues).toEqual([expect.objectContaining({ kind: 'foreign-fill', clientOrderId: 'manual-7' })]);
  });

  it('an order with an unknown outcome is reported as an issue, not as a rejection, and is not re-sent', async () => {
    const { rest, bars, orders, out, issues } = await setup();
    rest
      .on('POST', '/fapi/v1/order', () => ({ status: 503, body: { code: -1000, msg: 'unknown' } }))
      .on('GET', '/fapi/v1/order', () => ({ status: 503, body: {} }));
    bars.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'q1' }));
    await waitFor(() => issues.length === 1, 10_000);
    expect(issues[0]).toMatchObject({ kind: 'order-unknown', clientOrderId: 'q1' });
    expect(out.filter((e) => e.kind === 'order-rejected')).toEqual([]);
    expect(rest.count('POST', '/fapi/v1/order')).toBe(1);
  });

  it('after a 418 ban, orders are rejected with EXCHANGE_BANNED and nothing more is sent', async () => {
    const { rest, bars, orders, out } = await setup();
    rest.on('POST', '/fapi/v1/order', () => ({ status: 418, body: { code: -1003, msg: 'IP banned' } }));
    bars.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'b1' }));
    await waitFor(() => out.length === 2);
    orders.next(order({ clientOrderId: 'b2' }));
    await waitFor(() => out.length === 3);
    expect(out.slice(1).map((e) => (e as { reason: string }).reason.slice(0, 15))).toEqual([
      'EXCHANGE_BANNED',
      'EXCHANGE_BANNED',
    ]);
    expect(rest.count('POST', '/fapi/v1/order')).toBe(1);
  });

  it('FUNDING_FEE account updates become FundingPayments for the open position', async () => {
    const { bars, out, push, issues } = await setup();
    const bar = BTC[5]!;
    bars.next(bar);
    push(
      orderTradeUpdate({
        bar,
        clientOrderId: 'x-1',
        side: 'BUY',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: bar.close,
      }),
    );
    const rate = 0.0001; // Aster's base interest component per 8 h (reference §5)
    const paid = rate * 0.002 * bar.close;
    push({
      e: 'ACCOUNT_UPDATE',
      E: bar.time + 60_000,
      T: bar.time + 60_000,
      a: { m: 'FUNDING_FEE', B: [{ a: 'USDT', wb: '1000', cw: '1000', bc: String(-paid) }] },
    });
    const f = out.at(-1) as {
      kind: string;
      amount: number;
      rate: number;
      positionQty: number;
      markPrice: number;
      symbol: string;
    };
    expect(f).toMatchObject({ kind: 'funding', symbol: 'BTCUSDT', positionQty: 0.002, markPrice: bar.close });
    expect(f.amount).toBeCloseTo(paid, 12);
    expect(f.rate).toBeCloseTo(rate, 12);
    expect(issues.filter((i) => i.kind === 'funding-unattributed')).toEqual([]);
  });

  it('end to end over sockets: order over signed REST, fill over the user-data WebSocket', async () => {
    const { rest } = await setup();
    const ws = await new WsPeer().start();
    cleanups.push(() => ws.stop());
    rest
      .on('POST', '/fapi/v1/listenKey', () => ({ body: { listenKey: 'lk' } }))
      .on('DELETE', '/fapi/v1/listenKey', () => ({ body: {} }));
    const client = new AsterRestClient({ baseUrl: rest.url, credentials: HMAC });
    const user = new AsterUserStream({ wsUrl: ws.url, rest: client });
    cleanups.push(() => user.stop());
    const port = asterExecutionPort({ client, userEvents: user.events });
    const orders = new Subject<Order>();
    const out: (Bar | VenueEvent)[] = [];
    const bars2 = new Subject<Bar>();
    const sub = bars2.pipe(port.attach(orders)).subscribe((e) => out.push(e));
    cleanups.push(() => sub.unsubscribe());
    await user.start();
    await ws.waitConnections(1);
    bars2.next(BTC[0]!);
    orders.next(order({ clientOrderId: 'e2e-1', side: 'SELL', quantity: 0.002, reason: 'entry' }));
    await waitFor(() => rest.count('POST', '/fapi/v1/order') === 1);
    ws.send(
      orderTradeUpdate({
        bar: BTC[0]!,
        clientOrderId: 'e2e-1',
        side: 'SELL',
        qty: 0.002,
        lastQty: 0.002,
        cumQty: 0.002,
        price: BTC[1]!.open,
        commission: 0.07,
        maker: false,
      }),
    );
    await waitFor(() => out.length === 2);
    expect(out[1]).toMatchObject({
      kind: 'fill',
      clientOrderId: 'e2e-1',
      side: 'SELL',
      quantity: 0.002,
      price: BTC[1]!.open,
      fee: 0.07,
    });
  });
});
