import { afterAll, describe, expect, it } from 'vitest';
import { killSpawned } from '../../soak/kit.ts';

import { crashRestartScenario } from '../../soak/scenarios/crash-restart.ts';

afterAll(killSpawned);

describe('soak 2 (short): kill -9 and restart on the same journal', () => {
  it('resumes after every kill with the same book, and never fills one client order id twice', async () => {
    const rows = await crashRestartScenario({ kills: 2, replayMs: 20, lifeMs: [200, 800], seed: 3 });
    expect(rows.map((r) => [r.injected, r.figures])).toHaveLength(2);
    const [restarts, fills] = rows;
    expect(restarts!.count, restarts!.figures).toBe(2);
    expect(restarts!.held, restarts!.figures).toBe(true);
    expect(fills!.count, fills!.figures).toBeGreaterThan(0);
    expect(fills!.held, fills!.figures).toBe(true);
  }, 90_000);
});
