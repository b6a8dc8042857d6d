import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { SapphireError } from '../pipelines/errors.ts';
import type { LoadedStrategy, Strategy } from './kit/contract.ts';
import { SHIPPED_STRATEGIES } from './shipped/index.ts';

const SHIPPED = new Map(SHIPPED_STRATEGIES.map((s) => [s.name, s]));
/** strategy files already imported and checked, by absolute path (code, not run state) */
const FILES = new Map<string, Strategy>();
/** the env-style values given for file strategies' settings at the command edge (.env, environment, NAME=VALUE) */
let fileValues: Readonly<Record<string, unknown>> = {};

export const shippedNames = (): string[] => [...SHIPPED.keys()];
export const isStrategyFile = (entry: string): boolean => /\.[cm]?ts$/.test(entry);

/** MEAN_REVERSION_ for mean-reversion: every setting of a strategy starts with it. */
export const settingsPrefix = (name: string): string => `${name.replace(/-/g, '_').toUpperCase()}_`;

const fail = (where: string, detail: string): never => {
  throw new SapphireError('STRATEGY_INVALID', `${where}: ${detail}`);
};

/**
 * Checks a strategy's shape: the exports the contract needs, a kebab-case name, settings keys
 * prefixed by the name, a search space over those keys only. `reserved` are names taken by the
 * platform's settings (a strategy may not redefine them).
 */
export function checkStrategy(candidate: unknown, where: string, reserved: ReadonlySet<string>): Strategy {
  if (candidate === null || typeof candidate !== 'object')
    return fail(where, 'the default export must be defineStrategy({...}) (got nothing usable)');
  const s = candidate as Partial<Strategy>;
  if (typeof s.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(s.name))
    fail(where, `export "name" must be a kebab-case string such as my-strategy (got ${JSON.stringify(s.name)})`);
  if (!(s.settings instanceof z.ZodObject)) fail(where, 'export "settings" must be a zod object (z.object({...}))');
  if (typeof s.warmUpBars !== 'function') fail(where, 'export "warmUpBars" must be a function (settings) => bars');
  if (typeof s.create !== 'function') fail(where, 'export "create" must be a function (settings, context) => instance');
  if (s.searchSpace === null || typeof s.searchSpace !== 'object')
    fail(where, 'export "searchSpace" must be an object (use {} for nothing to tune)');
  const strategy = s as Strategy;
  const prefix = settingsPrefix(strategy.name);
  for (const key of Object.keys(strategy.settings.shape)) {
    if (!key.startsWith(prefix)) fail(where, `setting ${key} must start with ${prefix} (the strategy's name)`);
    if (reserved.has(key)) fail(where, `setting ${key} clashes with a setting of the platform or a shipped strategy`);
  }
  for (const key of Object.keys(strategy.searchSpace))
    if (!(key in strategy.settings.shape)) fail(where, `searchSpace.${key} is not one of the strategy's settings`);
  return strategy;
}

/**
 * Imports a strategy file once (tsx compiles it), checks it and remembers it, so that
 * STRATEGIES entries naming it resolve synchronously afterwards (in this process).
 * Errors name the file and the export or field: missing file, does not compile, throws at load,
 * lacks an export, settings clash.
 */
export async function loadStrategyFile(entry: string, reserved: ReadonlySet<string>): Promise<Strategy> {
  const path = isAbsolute(entry) ? entry : resolve(entry);
  const known = FILES.get(path);
  if (known !== undefined) return known;
  if (!existsSync(path)) fail(entry, 'no such strategy file');
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return fail(entry, `cannot be loaded (does it compile? does it throw at load?): ${message}`);
  }
  if (!('default' in mod) || mod.default === undefined)
    fail(entry, 'has no default export: end the file with export default defineStrategy({...})');
  const strategy = checkStrategy(mod.default, entry, reserved);
  if (SHIPPED.has(strategy.name)) fail(entry, `name "${strategy.name}" is taken by a shipped strategy`);
  FILES.set(path, strategy);
  return strategy;
}

/**
 * Loads every file entry of STRATEGIES (shipped names need nothing) and keeps, from `values`
 * (raw env-style values), those that belong to a file strategy's settings, so that
 * resolveStrategies can run synchronously afterwards. Worker threads call it again with the
 * values their parent handed over (fileStrategyValues()).
 */
export async function preloadStrategies(
  entries: readonly string[],
  reserved: ReadonlySet<string>,
  values: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const owned = new Map<string, string>();
  for (const e of entries) {
    if (!isStrategyFile(e)) continue;
    const s = await loadStrategyFile(e, reserved);
    for (const key of Object.keys(s.settings.shape)) {
      const other = owned.get(key);
      if (other !== undefined && other !== e) fail(e, `setting ${key} clashes with the same setting in ${other}`);
      owned.set(key, e);
    }
  }
  const kept: Record<string, unknown> = {};
  for (const key of owned.keys()) if (values[key] !== undefined) kept[key] = values[key];
  fileValues = Object.freeze(kept);
}

/** The values kept for file strategies (to hand to worker threads). */
export const fileStrategyValues = (): Readonly<Record<string, unknown>> => fileValues;

/** The settings (and search space) the loaded file strategies of `entries` add. */
export function fileStrategies(entries: readonly string[]): Strategy[] {
  const out: Strategy[] = [];
  for (const e of entries) {
    const s = isStrategyFile(e) ? FILES.get(isAbsolute(e) ? e : resolve(e)) : undefined;
    if (s) out.push(s);
  }
  return out;
}

/** The strategies an entry list names (shipped or loaded files), for search spaces and reports. */
export function strategiesNamed(entries: readonly string[]): Strategy[] {
  return entries
    .map((e) => (isStrategyFile(e) ? FILES.get(isAbsolute(e) ? e : resolve(e)) : SHIPPED.get(e)))
    .filter((s): s is Strategy => s !== undefined);
}

/**
 * The strategies of STRATEGIES with their settings: a shipped strategy reads its keys from the
 * root settings; a file strategy parses its own schema from `extra` (the env-style values meant
 * for it). Two entries with the same name are refused.
 */
export function resolveStrategies(
  settings: { readonly STRATEGIES: readonly string[] } & Readonly<Record<string, unknown>>,
  extra: Readonly<Record<string, unknown>> = fileValues,
): LoadedStrategy[] {
  const out: LoadedStrategy[] = [];
  const names = new Set<string>();
  for (const entry of settings.STRATEGIES) {
    let strategy: Strategy | undefined;
    let origin = 'shipped';
    if (isStrategyFile(entry)) {
      strategy = FILES.get(isAbsolute(entry) ? entry : resolve(entry));
      origin = entry;
      if (strategy === undefined) fail(entry, 'strategy file not loaded (preloadStrategies runs at the command edge)');
    } else {
      strategy = SHIPPED.get(entry);
      if (strategy === undefined)
        fail(
          `STRATEGIES=${settings.STRATEGIES.join(',')}`,
          `unknown strategy "${entry}"; shipped: ${shippedNames().join(', ')}`,
        );
    }
    const s = strategy!;
    if (names.has(s.name)) fail(`STRATEGIES=${settings.STRATEGIES.join(',')}`, `strategy "${s.name}" is listed twice`);
    names.add(s.name);
    out.push({ strategy: s, settings: strategySettings(s, origin, origin === 'shipped' ? settings : extra), origin });
  }
  return out;
}

function strategySettings(
  s: Strategy,
  origin: string,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(s.settings.shape))
    if (values[key] !== undefined && values[key] !== '') picked[key] = values[key];
  const parsed = s.settings.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `${String(i.path[0] ?? '?')}=${JSON.stringify(picked[String(i.path[0])])}: ${i.message}`,
    );
    fail(`strategy ${s.name} (${origin})`, lines.join('; '));
  }
  return Object.freeze(parsed.data as Record<string, unknown>);
}
