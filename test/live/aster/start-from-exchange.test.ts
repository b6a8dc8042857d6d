import { afterEach, describe, expect, it } from 'vitest';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import { until } from '../../../soak/kit.ts';
import { KEY, LiveOnSimulator } from './kit/live-on-simulator.ts';

/**
 * Issue 14 item 10: after a change of strategy settings the journal's history is not re-derived;
 * `--from-exchange` (START_FROM_EXCHANGE) starts from what the exchange holds instead — its
 * positions taken over at their entry price, protected by the stop and take-profit found working
 * for them, our orders that guard nothing cancelled, other orders left alone — and the book then
 * agrees with the exchange, with nothing halted.
 */

let peer: LiveOnSimulator | null = null;
afterEach(async () => {
  await peer?.close();
  peer = null;
});

const CHANGED = { MOMENTUM_THRESHOLD: '49' };
const FROM_EXCHANGE = { ...CHANGED, START_FROM_EXCHANGE: 'true' };
const protective = (p: LiveOnSimulator) =>
  p.workingOrders().filter((o) => o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET');
const positionOf = (p: LiveOnSimulator) => p.sim.state(KEY.apiKey).positions.find((x) => x.symbol === 'BTCUSDT');

describe('a live start from the exchange (START_FROM_EXCHANGE, simulator)', () => {
  it('takes over the position with its working stop and take-profit, then trades it as its own', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    const held = await p.holdPosition();
    const before = protective(p);
    const stopBefore = before.find((o) => o.type === 'STOP_MARKET')!;
    const entryPrice = positionOf(p)!.entryPrice;
    await p.stopService();

    // other settings: the journal's history is not theirs, and without the flag the start is refused
    await expect(p.live(CHANGED)).rejects.toThrow(/other strategy settings or code \(MOMENTUM_THRESHOLD 50 → 49\)/);
    expect(protective(p)).toHaveLength(2);

    await p.live(FROM_EXCHANGE);
    await p.nextBarSeen();
    await p.nextBarSeen();
    const s = p.running;
    expect(s.engine.lastError).toBeNull();
    expect(s.engine.running).toBe(true);
    p.bookAgrees();
    expect(p.ours()).toBe(held);
    const position = s.engine.portfolio!.positions[0]!;
    expect(position.entryPrice).toBe(entryPrice);
    expect(p.logs.join('\n')).toMatch(/start from the exchange: took over BTCUSDT LONG \S+ @ \S+; kept sapphire-/);
    // the stop is the one that was working (still below the price), placed again under the new
    // life's ids; the old orders are cancelled once the new ones are in: one of each works
    await until(
      'one stop and one take-profit working',
      () => (protective(p).length === 2 ? true : undefined),
      10_000,
      20,
    );
    const after = protective(p);
    expect(after.map((o) => o.type).sort()).toEqual(['STOP_MARKET', 'TAKE_PROFIT_MARKET']);
    expect(after.some((o) => before.some((b) => b.clientOrderId === o.clientOrderId))).toBe(false);
    expect(after.find((o) => o.type === 'STOP_MARKET')!.stopPrice).toBe(stopBefore.stopPrice);

    // the adopted position is the bot's: an exit closes it and leaves nothing working
    await p.decide('exit');
    await until('the exit filled', () => (p.exchangeAmount() === 0 ? true : undefined), 20_000, 20);
    await until('nothing left working', () => (protective(p).length === 0 ? true : undefined), 10_000, 20);
    await p.nextBarSeen();
    p.bookAgrees();
    const closed = s.engine.trades.at(-1)!;
    expect(closed.entryPrice).toBe(entryPrice);

    // a restart on the new journal replays the take-over and agrees with the exchange
    await p.stopService();
    await p.live(FROM_EXCHANGE);
    await p.nextBarSeen();
    expect(p.running.engine.lastError).toBeNull();
    p.bookAgrees();
    expect(p.running.engine.trades.at(-1)!.entryPrice).toBe(entryPrice);
  }, 120_000);

  it('cancels our orders that guard nothing and leaves orders not ours alone', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    const held = await p.holdPosition();
    const stale = protective(p).map((o) => o.clientOrderId);
    await p.stopService();

    // while the service is down, the operator closes the position by hand (the bot's stop and
    // take-profit stay working) and rests an order of their own
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
    // far below the market: it rests through the test
    const restingPrice = Math.round(p.sim.state(KEY.apiKey).fills.at(-1)!.price * 0.5);
    const manual = await operator.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      price: restingPrice,
      quantity: Math.abs(held),
      newClientOrderId: 'manual-bid-1',
    });
    expect(manual.status).toBe('accepted');
    expect(
      p
        .workingOrders()
        .map((o) => o.clientOrderId)
        .sort(),
    ).toEqual([...stale, 'manual-bid-1'].sort());

    await p.live(FROM_EXCHANGE);
    await p.nextBarSeen();
    await until('the stale orders cancelled', () => (protective(p).length === 0 ? true : undefined), 10_000, 20);
    expect(p.workingOrders().map((o) => o.clientOrderId)).toEqual(['manual-bid-1']);
    expect(p.running.engine.lastError).toBeNull();
    expect(p.running.engine.running).toBe(true);
    p.bookAgrees();
    expect(p.ours()).toBe(0);
    const line = await until(
      'the take-over logged',
      () => p.logs.find((l) => l.includes('start from the exchange')),
      10_000,
      20,
    );
    expect(line).toContain('took over no position');
    for (const id of stale) expect(line).toContain(id);
    expect(line).toContain('manual-bid-1 (BTCUSDT LIMIT) alone');
  }, 120_000);
});
