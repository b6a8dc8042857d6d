import { describe, expect, it } from 'vitest';
import { backgroundTimers, realTimers, sleep, systemClock } from '../../runtime/timers.ts';

describe('runtime/timers: the real clock and timers', () => {
  it('systemClock reads the wall clock', () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('realTimers fire, keep the process alive while pending, and can be cleared', async () => {
    const fired: string[] = [];
    const h = realTimers.setTimeout(() => fired.push('cleared'), 5) as NodeJS.Timeout;
    expect(h.hasRef()).toBe(true);
    realTimers.clearTimeout(h);
    await new Promise<void>((resolve) => realTimers.setTimeout(() => (fired.push('fired'), resolve()), 10));
    expect(fired).toEqual(['fired']);
  });

  it('backgroundTimers fire but never keep the process alive, and can be cleared', async () => {
    await new Promise<void>((resolve) => {
      const h = backgroundTimers.setTimeout(resolve, 1) as NodeJS.Timeout;
      expect(h.hasRef()).toBe(false);
    });
    let fired = false;
    backgroundTimers.clearTimeout(backgroundTimers.setTimeout(() => (fired = true), 1));
    // a later timer firing proves the cleared one never will (Node runs timers in deadline order)
    await sleep(10);
    expect(fired).toBe(false);
  });

  it('sleep waits on the timers it is given', async () => {
    const asked: number[] = [];
    const done = sleep(1234, { setTimeout: (fn, ms) => (asked.push(ms), fn()), clearTimeout: () => undefined });
    await done;
    expect(asked).toEqual([1234]);
  });
});
