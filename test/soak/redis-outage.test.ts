import { afterAll, describe, expect, it } from 'vitest';
import { killSpawned } from '../../soak/kit.ts';

import { redisOutageScenario } from '../../soak/scenarios/service-runs.ts';

afterAll(killSpawned);

describe('soak 3 (short): Redis killed mid-run', () => {
  it('keeps trading, reports redis down on /healthz, and the streams catch up when it returns', async () => {
    const [row] = await redisOutageScenario({ outageMs: 3000 });
    expect(row!.held, row!.figures).toBe(true);
    expect(row!.figures).toMatch(/redis=down in (\d+)\/\1 samples/);
    expect(row!.figures).toMatch(/caught up in/);
  }, 60_000);
});
