/**
 * The embedded forecaster's central bands on real closes, per band level and step ahead.
 *
 *   npx tsx research/forecast-calibration.ts [--stride N] DIR [DIR …]         coverage table
 *   npx tsx research/forecast-calibration.ts --fit [--stride N] DIR [DIR …]   the CALIBRATED_Z table
 *
 * Coverage: the share of real future closes inside the band the forecaster gave at the decision
 * bar, from the 128 closes up to it and nothing later (the defaults AGENT_CONTEXT_BARS = 128 and
 * LAGLLAMA_HORIZON = 12), at every `stride`-th bar; one markdown row per series, then all pooled.
 * Fit: per level and CALIBRATION_STEPS step, the quantile of |ln(future / median)| / scale over the
 * same decisions — what forecast.kernel.ts's CALIBRATED_Z holds (fitted on spot-5m-2024 only).
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../backtests/data/index.ts';
import {
  BAND_LEVELS,
  CALIBRATION_STEPS,
  garchBand,
  garchForecast,
  ReturnsMemo,
  type GarchForecast,
} from '../operators/agents/forecast.kernel.ts';

const WINDOW = 128;
const HORIZON = 12;
/** steps reported in the coverage table: the next bar and the horizon's end */
export const COVERAGE_STEPS = [1, HORIZON] as const;

export interface Coverage {
  level: number;
  step: number;
  hits: number;
  n: number;
}

/** Calls `each(forecast, t)` at every `stride`-th decision bar t with `horizon` real closes after it. */
function forEachDecision(
  closes: Float64Array,
  stride: number,
  horizon: number,
  each: (f: GarchForecast, t: number) => void,
): void {
  const memo = new ReturnsMemo();
  for (let t = WINDOW - 1; t + horizon < closes.length; t += stride) {
    const f = garchForecast(closes.subarray(t - WINDOW + 1, t + 1), horizon, memo);
    if (f !== null) each(f, t);
  }
}

/** Coverage per level (BAND_LEVELS) and step (COVERAGE_STEPS) over one close series. */
export function coverageOf(closes: Float64Array, stride: number): Coverage[] {
  const out: Coverage[] = [];
  for (const level of BAND_LEVELS) for (const step of COVERAGE_STEPS) out.push({ level, step, hits: 0, n: 0 });
  forEachDecision(closes, stride, HORIZON, (f, t) => {
    for (const level of BAND_LEVELS) {
      const band = garchBand(f, level);
      for (const step of COVERAGE_STEPS) {
        const c = out.find((x) => x.level === level && x.step === step)!;
        const future = closes[t + step]!;
        c.n++;
        if (future >= band.lower[step - 1]! && future <= band.upper[step - 1]!) c.hits++;
      }
    }
  });
  return out;
}

/** |standardized error| per CALIBRATION_STEPS step, pooled over the series given. */
function standardizedErrors(series: readonly Float64Array[], stride: number): number[][] {
  const steps = CALIBRATION_STEPS;
  const errors = steps.map(() => [] as number[]);
  for (const closes of series) {
    forEachDecision(closes, stride, steps[steps.length - 1]!, (f, t) => {
      steps.forEach((k, i) =>
        errors[i]!.push(Math.abs(Math.log(closes[t + k]! / f.forecast[k - 1]!)) / f.scale[k - 1]!),
      );
    });
  }
  return errors;
}

const rate = (c: Coverage): string => (c.hits / c.n).toFixed(3);

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { stride: { type: 'string' }, fit: { type: 'boolean' } },
    allowPositionals: true,
  });
  // a stride sharing a factor with 3, 12 or 288 bars would sample one phase of the quarter-hour / hour / day: intraday volatility is not the same at each
  const stride = Number(values.stride ?? '7');
  if (positionals.length === 0 || !Number.isInteger(stride) || stride < 1) {
    console.error(
      'usage: npx tsx research/forecast-calibration.ts [--fit] [--stride N] DIR [DIR …] (N a whole number ≥ 1)',
    );
    process.exitCode = 1;
    return;
  }
  const loaded = await Promise.all(positionals.map((dir) => loadDataset({ dir, allowGaps: true })));
  if (values.fit === true) {
    const errors = standardizedErrors(
      loaded.flat().map((s) => s.close),
      stride,
    );
    for (const e of errors) e.sort((a, b) => a - b);
    for (const level of BAND_LEVELS) {
      const row = errors.map((e) => e[Math.min(e.length - 1, Math.floor(level * e.length))]!.toFixed(4));
      console.log(`  ${level}: [${row.join(', ')}],`);
    }
    console.log(`(${errors[0]!.length} decisions per step, steps ${CALIBRATION_STEPS.join(', ')})`);
    return;
  }
  const pooled = new Map<string, Coverage>();
  const cells = (cov: readonly Coverage[]) =>
    BAND_LEVELS.map((level) =>
      COVERAGE_STEPS.map((step) => rate(cov.find((c) => c.level === level && c.step === step)!)).join(' / '),
    ).join(' | ');
  console.log(`| series | decisions | ${BAND_LEVELS.map((l) => `${l} (1 / ${HORIZON} bars)`).join(' | ')} |`);
  console.log(`|---|---|${BAND_LEVELS.map(() => '---').join('|')}|`);
  positionals.forEach((dir, i) => {
    for (const series of loaded[i]!) {
      const cov = coverageOf(series.close, stride);
      for (const c of cov) {
        const key = `${c.level}|${c.step}`;
        const p = pooled.get(key) ?? { ...c, hits: 0, n: 0 };
        pooled.set(key, { ...p, hits: p.hits + c.hits, n: p.n + c.n });
      }
      console.log(`| ${dir.split('/').filter(Boolean).pop()} ${series.symbol} | ${cov[0]!.n} | ${cells(cov)} |`);
    }
  });
  const all = [...pooled.values()];
  console.log(`| all | ${all[0]!.n} | ${cells(all)} |`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
