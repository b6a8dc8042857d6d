import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../soak/kit.ts';
import { KEY, LiveOnSimulator } from './kit/live-on-simulator.ts';

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

// stops and take-profits far enough away that the position is still held at the next funding time
const WIDE = { ATR_STOP_MULTIPLE: '40', REWARD_TO_RISK: '10' };

describe('funding after a restart (live, simulator)', () => {
  it('funding settled on a position held across a restart is booked, not reported as unattributed', async () => {
    const p = (peer = await LiveOnSimulator.start());
    await p.live(WIDE);
    await p.nextBarSeen();
    await p.holdPosition();
    await p.stopService();
    await p.live(WIDE);
    await p.nextBarSeen();
    const s = p.running;
    const paid = () => p.sim.state(KEY.apiKey).fundingPaid;
    const before = paid();
    // on to the next funding time (every 8 h: at most 96 five-minute bars); stop if the position goes
    for (let i = 0; i < 100 && paid() === before && p.exchangeAmount() !== 0; i++) await p.nextBarSeen();
    expect(
      paid(),
      `the exchange settled funding on the position (held ${p.exchangeAmount()}, bar ${new Date(s.engine.lastBarTime).toISOString()})`,
    ).not.toBe(before);
    await p.nextBarSeen();
    await until('the funding booked', () => (s.engine.portfolio!.fundingPaid !== 0 ? true : undefined), 10_000, 20);
    expect(s.engine.portfolio!.fundingPaid).toBeCloseTo(paid() - before, 6);
    expect(s.engine.lastError).toBeNull();
  }, 180_000);
});
