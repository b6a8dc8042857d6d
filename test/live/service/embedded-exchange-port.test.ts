import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../../pipelines/settings.ts';
import { startService } from '../../../live/service/service.ts';
import type { EmbeddedExchangeOptions } from '../../../live/service/market-source.ts';
import { startExchangeSimulator } from '../../../simulator/start-simulator.ts';
import { REPO } from '../../kit/cli.ts';

const settings = () =>
  parseSettings({
    SIMULATOR_DATA_DIR: join(REPO, 'data/sample/perp-5m'),
    SIMULATOR_REPLAY_MS: 60_000,
    JOURNAL_PATH: join(mkdtempSync(join(tmpdir(), 'sapphire-port-')), 'journal.jsonl'),
    PORT: 0,
  });

describe('the embedded exchange reaches the service through a port (live/ does not import simulator/)', () => {
  it('without ASTER_REST_URL and without an embedded exchange the start fails in words and leaves no lock', async () => {
    const s = settings();
    await expect(startService(s, { port: 0, logger: false, log: () => {} })).rejects.toThrow(
      /NOT_CONFIGURED: ASTER_REST_URL is empty .* started without one/,
    );
    expect(existsSync(`${s.JOURNAL_PATH}.lock`)).toBe(false);
  });

  it('trades on the exchange the composition root passes in, asked for the recorded bars from 127.0.0.1', async () => {
    const asked: EmbeddedExchangeOptions[] = [];
    const service = await startService(settings(), {
      port: 0,
      logger: false,
      embeddedExchange: (options) => {
        asked.push(options);
        return startExchangeSimulator(options);
      },
    });
    try {
      expect(asked).toHaveLength(1);
      expect(asked[0]!.host).toBe('127.0.0.1');
      expect(asked[0]!.series.map((c) => c.symbol)).toEqual(service.settings.SYMBOLS);
      expect(service.market.status()).toMatch(/^simulated/);
    } finally {
      await service.close();
    }
  });
});
