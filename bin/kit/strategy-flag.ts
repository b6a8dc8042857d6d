import { rawSettingValues } from '../../pipelines/load-settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { didYouMean } from './did-you-mean.ts';
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
  const strategies = resolveStrategies(settings);
  // NAME=VALUE words the root schema does not know must belong to a running strategy
  const known = [...SETTING_NAMES, ...strategies.flatMap((l) => Object.keys(l.settings))];
  for (const name of Object.keys(source.overrides)) {
    if (!known.includes(name))
      throw new SapphireError(
        'CLI_USAGE',
        `unknown setting ${name}${didYouMean(name, known)}; every setting is listed in docs/configuration.md or declared by a strategy`,
      );
  }
  return strategies;
}
