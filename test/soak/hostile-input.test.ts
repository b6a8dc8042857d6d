import { afterAll, describe, expect, it } from 'vitest';
import { killSpawned } from '../../soak/kit.ts';

import { fuzzRoutesScenario, malformedFilesScenario } from '../../soak/scenarios/hostile-input.ts';

afterAll(killSpawned);

describe('soak 4 (short): hostile input', () => {
  it('answers 300 fuzzed requests on every route without a 5xx and stays up', async () => {
    const [row] = await fuzzRoutesScenario({ requests: 300, seed: 7 });
    expect(row!.count).toBeGreaterThan(250);
    expect(row!.figures).toMatch(/5xx 0;/);
    expect(row!.held, row!.figures).toBe(true);
  }, 60_000);

  it('refuses malformed CSV and .env files naming file:line or the variable, writing nothing', async () => {
    const [row] = await malformedFilesScenario();
    expect(row!.count).toBe(4);
    expect(row!.held, row!.figures).toBe(true);
    expect(row!.figures).toMatch(/BTCUSDT\.csv:6/);
    expect(row!.figures).toMatch(/\.env:2/);
  }, 60_000);
});
