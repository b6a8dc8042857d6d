import { z } from 'zod';
import { FeatureSettings, featureSearchSpace } from '../operators/features/features.settings.ts';
import {
  ShippedStrategySettings,
  StrategySelectionSettings,
  shippedSearchSpace,
} from '../strategies/strategies.settings.ts';
import { ConsensusSettings } from '../operators/consensus/consensus.settings.ts';
import { BanditSettings, banditSearchSpace } from '../operators/allocation/bandit.settings.ts';
import { SizingSettings, sizingSearchSpace } from '../operators/sizing/sizing.settings.ts';
import { RiskSettings, riskSearchSpace } from '../operators/risk/risk.settings.ts';
import { StopSettings, stopSearchSpace } from '../operators/stops/stops.settings.ts';
import { ExecutionSettings } from '../operators/execution/execution.settings.ts';
import { PortfolioSettings } from '../operators/portfolio/portfolio.settings.ts';
import { AgentSettings } from '../operators/agents/agents.settings.ts';
import { BacktestSettings } from '../backtests/backtest.settings.ts';
import { LiquiditySettings } from './liquidity/liquidity.settings.ts';
import { TuningSettings } from '../research/tuning.settings.ts';
import { LiveSettings } from '../live/live.settings.ts';
import type { SearchSpace } from './search-space.ts';
import { SapphireError } from './errors.ts';
import { redactSettingValue } from '../secrets/redact.ts';

/**
 * Every setting of the product, composed from the fragments that sit beside the code that uses
 * them. Keys are the environment variable names, so a setting has one name everywhere: in
 * `.env`, on the command line, in tuning studies and in the code.
 */
export const SETTINGS_SCHEMA = z.strictObject({
  ...LiveSettings.shape,
  ...FeatureSettings.shape,
  ...StrategySelectionSettings.shape,
  ...ShippedStrategySettings.shape,
  ...AgentSettings.shape,
  ...ConsensusSettings.shape,
  ...BanditSettings.shape,
  ...SizingSettings.shape,
  ...RiskSettings.shape,
  ...StopSettings.shape,
  ...ExecutionSettings.shape,
  ...PortfolioSettings.shape,
  ...BacktestSettings.shape,
  ...LiquiditySettings.shape,
  ...TuningSettings.shape,
});

export type Settings = Readonly<z.infer<typeof SETTINGS_SCHEMA>>;
export type SettingName = keyof Settings;
export const SETTING_NAMES = Object.keys(SETTINGS_SCHEMA.shape) as SettingName[];

/** Every tunable parameter, keyed by env name (the union of the operators' declared spaces). */
export const SEARCH_SPACE: SearchSpace = Object.freeze({
  ...featureSearchSpace,
  ...shippedSearchSpace,
  ...banditSearchSpace,
  ...sizingSearchSpace,
  ...riskSearchSpace,
  ...stopSearchSpace,
});

function describeValue(raw: Record<string, unknown>, name: string): string {
  // the one redaction rule: a secret is never echoed, nor a password inside a URL
  const v = redactSettingValue(name, raw[name]);
  if (v === undefined) return '(unset)';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/**
 * Validates raw values (strings from the environment or typed overrides) and freezes the result.
 * A bad value stops with every problem listed: variable, value and rule. Unknown names are only
 * rejected when `strictNames` is set (the environment holds plenty of unrelated variables).
 */
export function parseSettings(
  raw: Record<string, unknown>,
  options: { source?: string; strictNames?: boolean } = {},
): Settings {
  const known: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || v === '') continue; // NAME= means unset: the default applies
    if (k in SETTINGS_SCHEMA.shape) known[k] = v;
    else unknown.push(k);
  }
  const where = options.source ? ` (from ${options.source})` : '';
  if (options.strictNames && unknown.length > 0) {
    throw new SapphireError('SETTINGS_INVALID', `unknown setting ${unknown.join(', ')}${where}`);
  }
  const parsed = SETTINGS_SCHEMA.safeParse(known);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name}=${describeValue(known, name)}: ${issue.message}`;
    });
    throw new SapphireError('SETTINGS_INVALID', `${lines.join('; ')}${where}`);
  }
  return deepFreeze(parsed.data);
}

/** Settings with some values replaced (tuning trials, CLI overrides), validated again. */
export function withOverrides(base: Settings, overrides: Record<string, unknown>, source = 'overrides'): Settings {
  return parseSettings({ ...base, ...overrides }, { source, strictNames: true });
}

export const DEFAULT_SETTINGS: Settings = parseSettings({});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
