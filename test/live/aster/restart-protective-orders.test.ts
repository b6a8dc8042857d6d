import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../soak/kit.ts';
import { LiveOnSimulator } from './kit/live-on-simulator.ts';

/**
 * A position's stop and take-profit work at the exchange across a restart of the live service.
 * The restarted service must know them as its own: when the position goes, they are cancelled
 * (a stop left working would close the NEXT position), and a new stop replaces them rather than
 * adding a second one.
 */

let peer: LiveOnSimulator | null = null;
afterEach(async () => {
  await peer?.close();
  peer = null;
});

const protective = (p: LiveOnSimulator) =>
  p.workingOrders().filter((o) => o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET');

describe('protective orders of an earlier life (live restart, simulator)', () => {
  it('an exit after a restart cancels the stop and take-profit the last life placed', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live();
    await p.nextBarSeen();
    await p.holdPosition();
    const placed = protective(p);
    expect(placed.map((o) => o.type).sort()).toEqual(['STOP_MARKET', 'TAKE_PROFIT_MARKET']);
    await p.stopService();

    await p.live();
    await p.nextBarSeen();
    expect(p.running.engine.lastError).toBeNull();
    await p.decide('exit');
    await until('the exit filled at the exchange', () => (p.exchangeAmount() === 0 ? true : undefined), 20_000, 20);
    // nothing of the closed position may stay working
    await until(
      'the earlier life’s stop and take-profit cancelled',
      () => (protective(p).length === 0 ? true : undefined),
      10_000,
      20,
    ).catch(() => undefined);
    expect(protective(p).map((o) => o.clientOrderId)).toEqual([]);
    expect(p.running.engine.lastError).toBeNull();
  }, 120_000);
});
