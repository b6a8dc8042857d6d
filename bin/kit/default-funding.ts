import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FundingRate } from '../../pipelines/model/index.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadFundingFile } from '../../backtests/data/index.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** FUNDING_CSV: relative to the working folder, else to the repository (the shipped sample history). */
export function defaultFunding(path: string): FundingRate[] | undefined {
  if (path === '') return undefined;
  const found = [path, join(REPO_ROOT, path)].find((p) => existsSync(p));
  if (found === undefined) throw new SapphireError('DATA_NOT_FOUND', `FUNDING_CSV=${path}: no such file`);
  return loadFundingFile(found);
}

/** `--funding FILE` when given, else FUNDING_CSV: the same history for a backtest and a tune's trials. */
export function fundingFor(flag: string | undefined, fundingCsv: string): FundingRate[] | undefined {
  return flag ? loadFundingFile(flag) : defaultFunding(fundingCsv);
}
