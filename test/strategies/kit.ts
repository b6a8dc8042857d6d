import { from, lastValueFrom, toArray } from 'rxjs';
import type { FundingRate, PipelineEvent, Signal } from '../../pipelines/model/index.ts';
import { strategySignals } from '../../operators/signals/strategy-signals.ts';
import type { LoadedStrategy } from '../../strategies/kit/contract.ts';
import { resolveStrategies } from '../../strategies/registry.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { activeSettings, runFixture } from '../kit/pipeline-kit.ts';

/**
 * Funding rates for strategy logic tests only (hand-set, not market data: no real 2025 history is
 * available offline): every 8 h over the fixture's days, cycling crowded-long, crowded-short, calm.
 */
export function handSetFundingRates(symbols: readonly string[]): FundingRate[] {
  const out: FundingRate[] = [];
  const start = Date.UTC(2025, 0, 28);
  const cycle = [0.001, 0.0002, -0.001, 0.00005];
  for (let k = 0; k < 15; k++)
    for (const symbol of symbols) out.push({ symbol, fundingTime: start + k * 8 * 3_600_000, rate: cycle[k % 4]! });
  return out;
}

/** Settings that make a strategy speak on the 4-day fixture (the platform's active settings plus these). */
export function settingsFor(strategy: string, extra: Record<string, unknown> = {}): Settings {
  return activeSettings({ STRATEGIES: strategy, ...extra });
}

/** The fixture's bars, features and portfolio snapshots from a full run: what a signal stage consumes. */
export async function signalInputs(settings: Settings): Promise<PipelineEvent[]> {
  const all = await runFixture(settings);
  return all.filter((e) => e.kind === 'bar' || e.kind === 'features' || e.kind === 'portfolio');
}

export function loaded(settings: Settings): LoadedStrategy[] {
  return resolveStrategies(settings);
}

export async function runSignals(
  strategies: readonly LoadedStrategy[],
  settings: Settings,
  input: readonly PipelineEvent[],
  fundingRates?: readonly FundingRate[],
): Promise<PipelineEvent[]> {
  return lastValueFrom(from(input).pipe(strategySignals(strategies, settings, { fundingRates }), toArray()));
}

export const signalsOf = (events: readonly PipelineEvent[]): Signal[] =>
  events.filter((e): e is Signal => e.kind === 'signal');
