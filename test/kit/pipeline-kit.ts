import { from, toArray, firstValueFrom, type Observable } from 'rxjs';
import type { Bar, PipelineEvent } from '../../pipelines/model/index.ts';
import { buildPipeline } from '../../pipelines/build-pipeline.ts';
import { parseSettings, type Settings } from '../../pipelines/settings.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { mergedFixtureBars } from './fixture-bars.ts';

/**
 * Settings that make the 4-day fixture trade: a 4-hour momentum window and a low threshold, so
 * entries, stops, trailing and exits all happen within 1,152 bars per symbol.
 */
export function activeSettings(overrides: Record<string, unknown> = {}): Settings {
  return parseSettings({
    SYMBOLS: 'BTCUSDT,ETHUSDT',
    MOMENTUM_LOOKBACK_BARS: 48,
    MOMENTUM_THRESHOLD: 0.3,
    VOLATILITY_WINDOW_BARS: 48,
    COOLDOWN_BARS: 3,
    SIZING_MODE: 'fixed',
    NOTIONAL_FRACTION: 0.2,
    ...overrides,
  });
}

export function pipelineOver(bars: readonly Bar[], settings: Settings): Observable<PipelineEvent> {
  const filters = filtersFor(settings.SYMBOLS);
  return buildPipeline(
    settings,
    { market: { bars: () => from(bars) }, execution: simulatedVenue(settings, { filters }) },
    { filters },
  );
}

export async function runFixture(
  settings = activeSettings(),
  bars = mergedFixtureBars(['BTCUSDT', 'ETHUSDT']),
): Promise<PipelineEvent[]> {
  return firstValueFrom(pipelineOver(bars, settings).pipe(toArray()));
}
