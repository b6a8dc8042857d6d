import { afterAll, describe, expect, it } from 'vitest';
import { killSpawned } from '../../soak/kit.ts';

import { authLimitsScenario } from '../../soak/scenarios/auth-limits.ts';

afterAll(killSpawned);

describe('soak 6 (short): auth and limits', () => {
  it('rejects missing/wrong/query tokens, compares in constant time, rate-limits a burst, denies unknown origins', async () => {
    const rows = await authLimitsScenario({ burst: 1000, timingRounds: 5000 });
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.held, `${row.injected}: ${row.figures}`).toBe(true);
    expect(rows[2]!.figures).toMatch(/^(9[4-9]\d|1000) × 429/);
  }, 60_000);
});
