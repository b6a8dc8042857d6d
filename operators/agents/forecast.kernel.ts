/**
 * The embedded probabilistic forecaster: a GARCH(1,1) volatility filter over the recent log
 * returns with a shrunk drift, giving a median path and central quantile bands over the horizon.
 *
 * Model and assumptions (per call, from the closes it is given, oldest first; nothing else):
 * - log returns r_i = ln(c_i / c_{i−1}); their sample mean μ and variance V over the window.
 * - Conditional variance σ²_{i+1} = ω + α (r_i − μ)² + β σ²_i with variance targeting
 *   ω = V (1 − α − β), σ²_1 = V. α = 0.06, β = 0.92 are fixed values typical of intraday crypto
 *   (persistence 0.98, i.e. a volatility half-life of ~35 bars), not fitted per call: a maximum
 *   likelihood fit on every bar would cost milliseconds and is unstable on short windows. The
 *   unconditional level V is data-driven, so the model adapts to each symbol and regime.
 * - Drift: the window mean μ shrunk toward zero by the positive-part James–Stein factor
 *   max(0, 1 − se²/μ²), se² = V/m. A trend that is not at least one standard error away from zero
 *   gives no drift (and no directional view), a strong one keeps most of its estimate.
 * - k-step variance σ²_{t+k} = V + (α+β)^{k−1} (σ²_{t+1} − V); the horizon's cumulative variance is
 *   their sum (returns uncorrelated given the variance). Bands are price · exp(drift·k ± z · √cumVar_k).
 * - Calibrated z: a normal quantile is wrong at most levels on real 5-minute closes (the standardized
 *   errors are peaked in the middle and fat-tailed, more so further ahead, because the fixed α, β
 *   understate how long volatility persists): nominal 0.5 covered 0.54–0.58, nominal 0.99 only
 *   0.965–0.98. So z per level and step is the empirical quantile of |standardized error| measured
 *   offline on spot-5m-2024 (five symbols, Jan–Sep 2024: `npx tsx research/forecast-calibration.ts
 *   --fit`), interpolated in ln(step) and held beyond 24 steps. The constants were fixed before any
 *   run and use no data of the series being forecast (no look-ahead); coverage on other real series
 *   (the README's table, a test on the shipped sample) checks that they transfer.
 * - Confidence = P(the horizon's move has the drift's sign) = Φ(|drift|·h / √cumVar_h); 0.5 and
 *   direction 0 when there is no drift.
 * - Anomaly score of the latest return: z = (r_m − μ)/σ_m, standardised by the conditional
 *   volatility before it was seen; its two-sided normal tail probability p maps to
 *   min(1, −log10(p)/5), so 0.8 (the default ANOMALY_THRESHOLD) ↔ p = 10⁻⁴ ↔ |z| ≈ 3.9.
 *   A jump that extreme relative to the current regime blocks new entries.
 * Deterministic (no randomness), O(window + horizon) per call.
 */

export const GARCH_ALPHA = 0.06;
export const GARCH_BETA = 0.92;
/** central band level of the embedded forecaster's lower/upper bands (lower_ci / upper_ci) */
export const BAND_LEVEL = 0.9;
/** the two-sided normal quantile for BAND_LEVEL (Φ⁻¹(0.95)): how remote 90 % bands are read */
export const BAND_Z = 1.6448536269514722;
/** the central band levels the embedded forecaster reports (garchBand), each calibrated */
export const BAND_LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99] as const;
export type BandLevel = (typeof BAND_LEVELS)[number];
/** steps ahead at which z was measured (research/forecast-calibration.ts --fit) */
export const CALIBRATION_STEPS = [1, 2, 3, 6, 12, 24] as const;
/** per level, z at each CALIBRATION_STEPS step: quantiles of |standardized error| on spot-5m-2024 */
export const CALIBRATED_Z: Readonly<Record<BandLevel, readonly number[]>> = {
  0.5: [0.6018, 0.606, 0.5962, 0.5813, 0.577, 0.5828],
  0.8: [1.193, 1.2013, 1.1939, 1.1828, 1.1916, 1.2094],
  0.9: [1.6112, 1.6259, 1.6259, 1.6308, 1.6648, 1.6994],
  0.95: [2.0369, 2.0662, 2.0786, 2.1203, 2.1896, 2.2585],
  0.99: [3.1984, 3.2851, 3.3487, 3.4889, 3.6973, 3.9025],
};

/** z of the central band at `level`, `step` bars ahead: the table, linear in ln(step), held past its ends. */
export function calibratedZ(level: BandLevel, step: number): number {
  const row = CALIBRATED_Z[level];
  const steps = CALIBRATION_STEPS;
  const last = steps.length - 1;
  if (step <= steps[0]) return row[0]!;
  if (step >= steps[last]!) return row[last]!;
  let i = 1;
  while (steps[i]! < step) i++;
  const w = Math.log(step / steps[i - 1]!) / Math.log(steps[i]! / steps[i - 1]!);
  return row[i - 1]! + w * (row[i]! - row[i - 1]!);
}

/** calibratedZ(BAND_LEVEL, k) for k = 1, 2, …: constants, grown on demand (the kernel's hot path) */
const mainBandZ: number[] = [Number.NaN];
function mainZ(step: number): number {
  while (mainBandZ.length <= step) mainBandZ.push(calibratedZ(BAND_LEVEL, mainBandZ.length));
  return mainBandZ[step]!;
}
/** fewest closes the forecaster accepts */
export const MIN_CLOSES = 16;

/** ln(erfc(x)) for x ≥ 0 (Numerical Recipes' Chebyshev fit, fractional error < 1.2e−7), no underflow. */
function logErfc(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -x * x -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) + poly;
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  const e = Math.exp(logErfc(Math.abs(x) / Math.SQRT2));
  return x >= 0 ? 1 - 0.5 * e : 0.5 * e;
}

/** Anomaly score of a standardised value: min(1, −log10(two-sided tail probability)/5). */
export function anomalyScore(z: number): number {
  const log10p = logErfc(Math.abs(z) / Math.SQRT2) / Math.LN10;
  return Math.min(1, Math.max(0, -log10p / 5));
}

export interface GarchForecast {
  /** median path, price units, steps 1..horizon */
  forecast: number[];
  lower_ci: number[];
  upper_ci: number[];
  anomaly_score: number;
  confidence: number;
  /** per-bar log drift after shrinkage */
  drift: number;
  /** one-step conditional volatility (log return units) */
  sigma1: number;
  /** standardised latest return */
  z: number;
  /** √(cumulative variance) of the log price per step ahead: a band at z is median · exp(±z · scale) */
  scale: number[];
}

/** A central band of a forecast: `level` of real closes are expected inside it at each step. */
export interface ForecastBand {
  level: BandLevel;
  lower: number[];
  upper: number[];
}

/** The forecast's calibrated central band at `level` (lower_ci / upper_ci are the BAND_LEVEL one). */
export function garchBand(f: GarchForecast, level: BandLevel): ForecastBand {
  const n = f.scale.length;
  const lower = new Array<number>(n);
  const upper = new Array<number>(n);
  for (let k = 1; k <= n; k++) {
    const half = calibratedZ(level, k) * f.scale[k - 1]!;
    lower[k - 1] = f.forecast[k - 1]! * Math.exp(-half);
    upper[k - 1] = f.forecast[k - 1]! * Math.exp(half);
  }
  return { level, lower, upper };
}

/**
 * Log returns of the last window seen, per symbol: consecutive asks on one symbol share all but
 * one return, so only the new one needs a logarithm. The returns are computed exactly as a fresh
 * pass would (same inputs, same operation), so results do not depend on call history.
 */
export class ReturnsMemo {
  private closes = new Float64Array(0);
  private returns = new Float64Array(0);
  private n = 0;

  /** The m = closes.length − 1 log returns (valid until the next call), or null on a bad close. */
  returnsOf(closes: ArrayLike<number>): Float64Array | null {
    const n = closes.length;
    if (this.closes.length < n) {
      this.closes = new Float64Array(Math.max(n, 2 * this.closes.length));
      this.returns = new Float64Array(this.closes.length);
      this.n = 0;
    }
    const c = this.closes;
    const r = this.returns;
    let from = 1;
    if (this.n === n && sameShifted(c, closes, n, 0)) {
      from = n; // same window again
    } else if (this.n === n && sameShifted(c, closes, n - 1, 1)) {
      c.copyWithin(0, 1, n);
      r.copyWithin(0, 1, n - 1);
      from = n - 1; // the window moved one bar
    }
    if (from === 1) {
      const c0 = closes[0]!;
      if (!(c0 > 0) || !Number.isFinite(c0)) return ((this.n = 0), null);
      c[0] = c0;
    }
    for (let i = from; i < n; i++) {
      const x = closes[i]!;
      if (!(x > 0) || !Number.isFinite(x)) return ((this.n = 0), null);
      c[i] = x;
      r[i - 1] = Math.log(x / c[i - 1]!);
    }
    this.n = n;
    return r;
  }
}

/** cached[shift .. shift+count) equals closes[0 .. count) */
function sameShifted(cached: Float64Array, closes: ArrayLike<number>, count: number, shift: number): boolean {
  for (let i = 0; i < count; i++) if (cached[i + shift] !== closes[i]) return false;
  return true;
}

const freshMemo = (): ReturnsMemo => new ReturnsMemo();

/**
 * Forecasts `horizon` steps ahead from `closes` (oldest first, last = now).
 * Returns null when there are fewer than MIN_CLOSES closes or a close is not positive and finite.
 * `memo` (one per symbol) only saves work; the result is the same with or without it.
 */
export function garchForecast(
  closes: ArrayLike<number>,
  horizon: number,
  memo: ReturnsMemo = freshMemo(),
): GarchForecast | null {
  const n = closes.length;
  if (n < MIN_CLOSES || horizon < 1) return null;
  const m = n - 1;
  const r = memo.returnsOf(closes);
  if (r === null) return null;
  let sum = 0;
  for (let i = 0; i < m; i++) sum += r[i]!;
  const mean = sum / m;
  let ss = 0;
  for (let i = 0; i < m; i++) {
    const d = r[i]! - mean;
    ss += d * d;
  }
  // a flat window still gets a tiny variance so bands are defined
  const v = Math.max(ss / (m - 1), 1e-14);
  const omega = v * (1 - GARCH_ALPHA - GARCH_BETA);
  // filter: after the loop `s2` is σ² of the latest return (before it was seen)
  let s2 = v;
  for (let i = 0; i < m - 1; i++) {
    const d = r[i]! - mean;
    s2 = omega + GARCH_ALPHA * d * d + GARCH_BETA * s2;
  }
  const last = r[m - 1]! - mean;
  const next = omega + GARCH_ALPHA * last * last + GARCH_BETA * s2;
  const z = last / Math.sqrt(s2);

  const se2 = v / m;
  const shrink = mean === 0 ? 0 : Math.max(0, 1 - se2 / (mean * mean));
  const drift = mean * shrink;

  const price = closes[n - 1]!;
  const forecast = new Array<number>(horizon);
  const lower = new Array<number>(horizon);
  const upper = new Array<number>(horizon);
  const scale = new Array<number>(horizon);
  const persistence = GARCH_ALPHA + GARCH_BETA;
  let decay = 1;
  let cum = 0;
  for (let k = 1; k <= horizon; k++) {
    cum += v + decay * (next - v);
    decay *= persistence;
    const center = drift * k;
    scale[k - 1] = Math.sqrt(cum);
    const half = mainZ(k) * scale[k - 1]!;
    forecast[k - 1] = price * Math.exp(center);
    lower[k - 1] = price * Math.exp(center - half);
    upper[k - 1] = price * Math.exp(center + half);
  }
  const confidence = drift === 0 ? 0.5 : normalCdf((Math.abs(drift) * horizon) / Math.sqrt(cum));
  return {
    forecast,
    lower_ci: lower,
    upper_ci: upper,
    anomaly_score: anomalyScore(z),
    confidence,
    drift,
    sigma1: Math.sqrt(next),
    z,
    scale,
  };
}
