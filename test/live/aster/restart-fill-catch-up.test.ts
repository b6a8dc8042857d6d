import { afterEach, describe, expect, it } from 'vitest';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { until } from '../../../soak/kit.ts';
import { KEY, LiveOnSimulator } from './kit/live-on-simulator.ts';

/**
 * Issue 14 item 2 / soak scenario 8: a fill that happens at the exchange while the live service
 * is down is found at the next start, before anything is sent, and journaled exactly once — so
 * the rebuilt book equals the exchange's, and a later restart does not count it again.
 */

let peer: LiveOnSimulator | null = null;
afterEach(async () => {
  await peer?.close();
  peer = null;
});

describe('fills while the live service is down (restart catch-up, simulator)', () => {
  it('a position closed at the exchange while down (an order the journal never knew) is journaled once at the next start', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    const held = await p.holdPosition();
    await p.stopService();

    // while the service is down, the operator closes the position on the exchange
    const operator = new AsterRestClient({ baseUrl: p.sim.restUrl, credentials: { kind: 'hmac', ...KEY } });
    await operator.syncTime();
    const close = await operator.newOrder({
      symbol: 'BTCUSDT',
      side: held > 0 ? 'SELL' : 'BUY',
      type: 'MARKET',
      quantity: Math.abs(held),
      reduceOnly: true,
      newClientOrderId: 'operator-close-1',
    });
    expect(close.status).toBe('accepted');
    expect(p.exchangeAmount()).toBe(0);

    await p.live();
    await p.nextBarSeen();
    expect(p.running.engine.lastError).toBeNull();
    p.bookAgrees();
    expect(p.journaledFills().get('operator-close-1')).toEqual({ quantity: Math.abs(held), count: 1 });

    // a further restart finds the fill in the journal and does not take it again
    await p.stopService();
    await p.live();
    await p.nextBarSeen();
    expect(p.running.engine.lastError).toBeNull();
    p.bookAgrees();
    expect(p.journaledFills().get('operator-close-1')).toEqual({ quantity: Math.abs(held), count: 1 });
  }, 120_000);

  it('our exit filled while down: one fill at the trade price (not a second one from the order lookup)', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    await p.holdPosition();
    // the exit reaches the exchange, which fills it only after the service has gone
    p.sim.injectFault('delayed-fill', { delayMs: 2_500 });
    await p.decide('exit');
    const exit = await until(
      'the exit at the exchange',
      () => p.sim.state(KEY.apiKey).orders.find((o) => o.reduceOnly && o.clientOrderId.startsWith('sapphire-')),
      10_000,
      10,
    );
    await p.stopService();
    expect(p.journaledFills().get(exit.clientOrderId)).toBeUndefined();
    await until('the exit filled while down', () => (p.exchangeAmount() === 0 ? true : undefined), 10_000, 20);

    await p.live();
    await p.nextBarSeen();
    expect(p.running.engine.lastError).toBeNull();
    p.bookAgrees();
    const trade = p.sim.state(KEY.apiKey).fills.filter((f) => f.orderId === exit.orderId);
    expect(p.journaledFills().get(exit.clientOrderId)).toEqual({
      quantity: trade.reduce((a, f) => a + f.qty, 0),
      count: trade.length,
    });
  }, 120_000);

  it("a user-stream reconnect soon after a restart does not read the last life's fills back as new ones", async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    await p.holdPosition();
    const entry = p.sim.state(KEY.apiKey).orders.find((o) => !o.reduceOnly && o.clientOrderId.startsWith('sapphire-'))!;
    expect(p.journaledFills().get(entry.clientOrderId)?.count).toBe(1);
    // restarted within the catch-up's slack of that fill, then the user stream drops: the
    // reconnect's catch-up window reaches back over a trade only the journal knows
    await p.stopService();
    await p.live();
    await p.nextBarSeen();
    p.sim.injectFault('drop-user-ws');
    const userSockets = () => p.sim.state(KEY.apiKey).userSockets;
    await until('the user stream dropped', () => (userSockets() === 0 ? true : undefined), 5_000, 10);
    await until('the user stream back', () => (userSockets() > 0 ? true : undefined), 20_000, 10);
    // the reconnect's catch-up reads REST and its events go in with the next bars
    await p.nextBarSeen();
    await p.nextBarSeen();
    expect(p.journaledFills().get(entry.clientOrderId)?.count).toBe(1);
    expect(p.running.engine.lastError).toBeNull();
    p.bookAgrees();
  }, 120_000);
});
