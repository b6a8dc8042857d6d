/**
 * The installed python3-optuna (Debian package), used only to compare our sampler with the
 * reference implementation. OPTUNA_PY is null when it is not installed (tests skip).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { ParamSpec } from '../../../pipelines/search-space.ts';
import type { ParamValue } from '../../../research/samplers/types.ts';

function find(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import optuna'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

export const OPTUNA_PY = find();

// builds Optuna's own univariate Parzen estimator (TPESampler defaults) and asks it for log_pdf
const SCRIPT = `
import json, sys
import numpy as np
from optuna import distributions as D
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights
P = _ParzenEstimatorParameters(consider_prior=True, prior_weight=1.0, consider_magic_clip=True,
    consider_endpoints=False, weights=default_weights, multivariate=False)
def dist(s):
    if s['type'] == 'categorical': return D.CategoricalDistribution(s['choices'])
    if s['type'] == 'float': return D.FloatDistribution(s['low'], s['high'], log=s.get('log', False), step=s.get('step'))
    return D.IntDistribution(s['low'], s['high'], log=s.get('log', False), step=s.get('step', 1))
out = []
for c in json.load(sys.stdin):
    d = dist(c['spec'])
    pe = _ParzenEstimator({'p': np.asarray([d.to_internal_repr(v) for v in c['observed']], dtype=float)}, {'p': d}, P)
    pts = np.asarray([d.to_internal_repr(v) for v in c['points']], dtype=float)
    if c['spec']['type'] == 'categorical': pts = pts.astype(int)
    out.append(pe.log_pdf({'p': pts}).tolist())
print(json.dumps(out))
`;

export interface DensityCase {
  spec: ParamSpec;
  observed: ParamValue[];
  points: ParamValue[];
}

/** Optuna's log density of each case's Parzen mixture at each of its points. */
export function optunaLogPdf(cases: readonly DensityCase[]): number[][] {
  if (!OPTUNA_PY) throw new Error('python3-optuna is not installed');
  return JSON.parse(
    execFileSync(OPTUNA_PY, ['-c', SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8' }),
  ) as number[][];
}

export function optunaVersion(): string | null {
  if (!OPTUNA_PY) return null;
  return execFileSync(OPTUNA_PY, ['-c', 'import optuna; print(optuna.__version__)'], { encoding: 'utf8' }).trim();
}
