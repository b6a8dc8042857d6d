import { afterAll, describe, expect, it } from 'vitest';
import { killSpawned } from '../../soak/kit.ts';
import { liveModeScenario } from '../../soak/scenarios/live-mode.ts';

afterAll(killSpawned);

describe('soak 8 (short): live mode against the exchange simulator', () => {
  it('kills with an order in flight, lost responses, user-stream drops during fills, clock skew both ways: no doubled order, no lost fill, positions equal', async () => {
    const rows = await liveModeScenario({ kills: 3, log: (l) => console.error(l) });
    for (const row of rows) console.error(`${row.injected} | ${row.count} | ${row.held} | ${row.figures}`);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.held, `${row.injected}: ${row.figures}`).toBe(true);
    expect(rows[0]!.count).toBeGreaterThan(0);
    // the faults really happened: at least one order response was lost
    expect(rows[0]!.injected).toMatch(/, [1-9]\d* lost order responses/);
  }, 400_000);
});
