import type { ParamSpec, SearchSpace } from '../pipelines/search-space.ts';
import { SEARCH_SPACE } from '../pipelines/settings.ts';
import { fileStrategies, shippedNames, strategiesNamed } from '../strategies/registry.ts';
import { parseParamsFlag } from './space-select.ts';

/** Which shipped strategies run, as one categorical parameter: each alone and every pair. */
export function strategySelectionParam(): ParamSpec {
  const names = shippedNames();
  const choices: string[] = [...names];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) choices.push(`${names[i]},${names[j]}`);
  return { type: 'categorical', choices };
}

/**
 * What a study may tune: the platform's parameters, STRATEGIES (a categorical choice of shipped
 * strategies) and the loaded strategy files' own. By default (no --params): the chosen
 * strategies' parameters when --strategy was given, else every platform parameter, as before.
 */
export function strategyTuningSpace(
  entries: readonly string[],
  strategyChosen: boolean,
): { declared: SearchSpace; byDefault: SearchSpace } {
  const declared: Record<string, ParamSpec> = { ...SEARCH_SPACE, STRATEGIES: strategySelectionParam() };
  for (const s of fileStrategies(entries)) Object.assign(declared, s.searchSpace);
  if (!strategyChosen) return { declared, byDefault: parseParamsFlag(undefined) };
  const own = strategiesNamed(entries).flatMap((s) => Object.keys(s.searchSpace));
  return { declared, byDefault: parseParamsFlag(own.join(','), declared) };
}
