import type { Observable } from 'rxjs';
import type { Bar, SymbolFilters } from '../../pipelines/model/index.ts';
import type { ExecutionPort } from '../../pipelines/ports.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset } from '../../backtests/data/index.ts';
import { featureParams } from '../../operators/features/features.ts';
import { replayMarket } from '../engine/replay-market.ts';

/** Where live bars come from, with enough history to warm the features first. */
export interface MarketSource {
  symbols: string[];
  filters?: ReadonlyMap<string, SymbolFilters>;
  history(): Promise<Bar[]>;
  bars: Observable<Bar>;
  /** the live execution port (real orders); paper mode uses the simulated venue instead */
  execution(): ExecutionPort;
  status(): string;
  close(): Promise<void>;
}

/** Bars the features need before they answer (see features.kernel: nothing before warm). */
export function warmupBars(settings: Settings): number {
  const p = featureParams(settings);
  return Math.max(p.atrPeriod + 1, p.lookbackBars + 1, p.barsPerDay + 1, p.volatilityWindow + 1) + 1;
}

/**
 * The embedded market: real recorded bars (SIMULATOR_DATA_DIR, the shipped sample by default)
 * played at SIMULATOR_REPLAY_MS per bar. History up to the warm-up length is served at once,
 * so a newcomer's `npm start` trades within a minute.
 */
export async function embeddedReplaySource(settings: Settings): Promise<MarketSource> {
  const all = await loadDataset({ dir: settings.SIMULATOR_DATA_DIR });
  const wanted = all.filter((c) => settings.SYMBOLS.includes(c.symbol));
  const series = wanted.length > 0 ? wanted : all;
  const first = series[0]!;
  const warm = warmupBars(settings);
  if (first.length <= warm + 1) {
    throw new SapphireError(
      'DATA_NOT_FOUND',
      `SIMULATOR_DATA_DIR=${settings.SIMULATOR_DATA_DIR} has ${first.length} bars; the features need ${warm} to warm up`,
    );
  }
  const liveFrom = first.openTime[warm]!;
  const replay = replayMarket(series, { liveFrom, stepMs: settings.SIMULATOR_REPLAY_MS });
  let state = 'simulated';
  return {
    symbols: series.map((c) => c.symbol),
    history: async () => replay.history,
    bars: replay.bars,
    execution: () => {
      throw new SapphireError(
        'NOT_CONFIGURED',
        'the embedded market has no real venue: live mode needs ASTER_REST_URL',
      );
    },
    status: () => state,
    close: async () => {
      state = 'closed';
    },
  };
}

export async function openMarketSource(settings: Settings): Promise<MarketSource> {
  if (settings.ASTER_REST_URL === '') return embeddedReplaySource(settings);
  const { asterMarketSource } = await import('./aster-source.ts');
  return asterMarketSource(settings);
}
