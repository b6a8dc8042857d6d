import { rawSettingValues } from '../../pipelines/load-settings.ts';
import { SETTING_NAMES, type Settings } from '../../pipelines/settings.ts';
import type { LoadedStrategy } from '../../strategies/kit/contract.ts';
import { preloadStrategies, resolveStrategies } from '../../strategies/registry.ts';

export const STRATEGY_FLAG_USAGE = `  --strategy S[,S…]   strategies to run, in order: shipped names (momentum, mean-reversion, breakout,
                      trend, funding-rate) or strategy files (./my-strategy.ts); sets STRATEGIES.
                      Several at once follow the netting rule of docs/strategies.md`;

/** `--strategy X` is STRATEGIES=X on the command line. */
export function applyStrategyFlag(flag: string | undefined, overrides: Record<string, unknown>): void {
  if (flag !== undefined) overrides.STRATEGIES = flag;
}

/**
 * At the command edge, before anything is read or written: imports the strategy files STRATEGIES
 * names, checks them, parses every strategy's settings (a file strategy's own from .env, the
 * environment and NAME=VALUE), and returns them ready to run. Bad input stops here with
 * STRATEGY_INVALID naming the file and the export or field.
 */
export async function strategiesAtEdge(
  settings: Settings,
  source: { envFile: string; overrides: Record<string, unknown> },
): Promise<LoadedStrategy[]> {
  await preloadStrategies(settings.STRATEGIES, new Set(SETTING_NAMES), rawSettingValues(source));
  return resolveStrategies(settings);
}
