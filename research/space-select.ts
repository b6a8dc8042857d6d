import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ParamSpec, SearchSpace } from '../pipelines/search-space.ts';
import { DEFAULT_SETTINGS, SEARCH_SPACE, withOverrides } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { OBJECTIVES } from './objectives.ts';
import { validateSpec } from './samplers/space.ts';

export interface RangeOverride {
  low?: number;
  high?: number;
  log?: boolean;
  step?: number;
}

/** A declared parameter with an optional narrower/different range, validated against its setting's rule. */
export function resolveParam(
  name: string,
  override: RangeOverride = {},
  declared: SearchSpace = SEARCH_SPACE,
): ParamSpec {
  const base = declared[name];
  if (!base) {
    throw new SapphireError(
      'TUNING_SPACE_INVALID',
      `unknown parameter ${name} (tunable: ${Object.keys(declared).sort().join(', ')})`,
    );
  }
  let spec: ParamSpec = base;
  if (base.type !== 'categorical') {
    spec = {
      ...base,
      ...(override.low !== undefined ? { low: override.low } : {}),
      ...(override.high !== undefined ? { high: override.high } : {}),
      ...(override.log !== undefined ? { log: override.log } : {}),
      ...(override.step !== undefined ? { step: override.step } : {}),
    };
  }
  validateSpec(name, spec);
  // a strategy file's own setting is checked by its schema when the trial runs
  if (spec.type !== 'categorical' && name in DEFAULT_SETTINGS) {
    // both ends must be legal values of the setting itself
    for (const v of [spec.low, spec.high]) {
      try {
        withOverrides(DEFAULT_SETTINGS, { [name]: v }, 'the search range');
      } catch (error) {
        throw new SapphireError(
          'TUNING_SPACE_INVALID',
          `${name}: range end ${v} is not a valid value (${(error as Error).message})`,
        );
      }
    }
  }
  return spec;
}

/** `A,B:0.1:0.9,C` → a search space (NAME or NAME:low:high); empty → every declared parameter. */
export function parseParamsFlag(text: string | undefined, declared: SearchSpace = SEARCH_SPACE): SearchSpace {
  if (text === undefined || text.trim() === '') {
    return Object.fromEntries(Object.keys(declared).map((n) => [n, resolveParam(n, {}, declared)]));
  }
  const out: Record<string, ParamSpec> = {};
  for (const word of text
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean)) {
    const [name, lo, hi, ...extra] = word.split(':');
    if (extra.length > 0 || (lo !== undefined && hi === undefined)) {
      throw new SapphireError('CLI_USAGE', `--params ${JSON.stringify(word)}: use NAME or NAME:low:high`);
    }
    const num = (s: string | undefined) => {
      if (s === undefined) return undefined;
      const v = Number(s);
      if (s.trim() === '' || !Number.isFinite(v)) {
        throw new SapphireError('CLI_USAGE', `--params ${JSON.stringify(word)}: ${JSON.stringify(s)} is not a number`);
      }
      return v;
    };
    if (name! in out) throw new SapphireError('CLI_USAGE', `--params names ${name} twice`);
    out[name!] = resolveParam(name!, { low: num(lo), high: num(hi) }, declared);
  }
  return out;
}

const RangeSchema = z.strictObject({
  low: z.number().optional(),
  high: z.number().optional(),
  log: z.boolean().optional(),
  step: z.number().optional(),
});

export const StudyFileSchema = z.strictObject({
  study: z.string().min(1).optional(),
  params: z.unknown().optional(),
  objective: z.enum(OBJECTIVES).optional(),
  sampler: z.enum(['tpe', 'random']).optional(),
  trials: z.number().int().min(1).optional(),
  minTrades: z.number().int().min(0).optional(),
  folds: z.number().int().min(1).optional(),
  trainRatio: z.number().positive().optional(),
  seed: z.number().int().min(0).optional(),
});
export type StudyFile = Omit<z.infer<typeof StudyFileSchema>, 'params'> & { space?: SearchSpace };

/** Reads a small JSON study file; any problem is an error naming the file and the field. */
export function readStudyFile(path: string): StudyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SapphireError('TUNING_SPACE_INVALID', `study file ${path} does not parse: ${(error as Error).message}`);
  }
  const fail = (issues: readonly { path: PropertyKey[]; message: string }[], at: string[] = []): never => {
    const why = issues.map((i) => `${[...at, ...i.path.map(String)].join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SapphireError('TUNING_SPACE_INVALID', `study file ${path}: ${why}`);
  };
  const parsed = StudyFileSchema.safeParse(raw);
  if (!parsed.success) return fail(parsed.error.issues);
  const { params, ...rest } = parsed.data;
  const f: StudyFile = { ...rest };
  if (params !== undefined) {
    // parsed on its own so a bad range names its field (a union would only say "invalid input")
    const names = z.array(z.string()).min(1).safeParse(params);
    if (names.success) {
      f.space = Object.fromEntries(names.data.map((n) => [n, resolveParam(n)]));
    } else {
      const ranges = z.record(z.string(), RangeSchema).safeParse(params);
      if (!ranges.success) return fail(Array.isArray(params) ? names.error.issues : ranges.error.issues, ['params']);
      f.space = Object.fromEntries(Object.entries(ranges.data).map(([n, r]) => [n, resolveParam(n, r)]));
    }
  }
  return f;
}
