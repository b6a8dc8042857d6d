import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  anomalyScore,
  BAND_LEVEL,
  BAND_LEVELS,
  BAND_Z,
  calibratedZ,
  CALIBRATION_STEPS,
  garchBand,
  garchForecast,
  MIN_CLOSES,
  normalCdf,
  ReturnsMemo,
} from '../../../operators/agents/forecast.kernel.ts';
import { loadDataset } from '../../../backtests/data/index.ts';
import { coverageOf } from '../../../research/forecast-calibration.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import { REPO } from '../../kit/cli.ts';

const WINDOW = 128;

/** Share of real future closes inside the forecaster's band at step `h`, over every window of the fixture. */
function coverage(symbol: 'BTCUSDT' | 'ETHUSDT', horizon: number, h: number): { hits: number; n: number } {
  const closes = fixtureColumns(symbol).close;
  let hits = 0;
  let n = 0;
  for (let t = WINDOW - 1; t + h < closes.length; t++) {
    const f = garchForecast(closes.subarray(t - WINDOW + 1, t + 1), horizon)!;
    const future = closes[t + h]!;
    if (future >= f.lower_ci[h - 1]! && future <= f.upper_ci[h - 1]!) hits++;
    n++;
  }
  return { hits, n };
}

describe('normal helpers', () => {
  it('normalCdf matches known quantiles', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(BAND_Z)).toBeCloseTo(0.95, 6);
    expect(normalCdf(-1.959963984540054)).toBeCloseTo(0.025, 6);
    expect(normalCdf(3)).toBeCloseTo(0.9986501019683699, 6);
  });

  it('anomalyScore is −log10(two-sided tail p)/5, capped at 1', () => {
    expect(anomalyScore(0)).toBeCloseTo(0, 6);
    // p = 1e-4 at |z| = 3.8906
    expect(anomalyScore(3.890591886)).toBeCloseTo(0.8, 4);
    expect(anomalyScore(-3.890591886)).toBeCloseTo(0.8, 4);
    expect(anomalyScore(50)).toBe(1);
    expect(anomalyScore(2)).toBeLessThan(anomalyScore(3));
  });
});

describe('garchForecast on real closes', () => {
  it(`covers about ${BAND_LEVEL * 100} % of real future closes, one step and twelve steps ahead`, () => {
    for (const symbol of ['BTCUSDT', 'ETHUSDT'] as const) {
      for (const h of [1, 12]) {
        const { hits, n } = coverage(symbol, 12, h);
        expect(n).toBeGreaterThan(900);
        const rate = hits / n;
        // nominal 0.90; real 5m returns are fat-tailed, so allow a sensible band around it
        expect(rate, `${symbol} h=${h}`).toBeGreaterThan(0.8);
        expect(rate, `${symbol} h=${h}`).toBeLessThan(0.97);
      }
    }
  });

  it('is calibrated at every level it reports on the shipped sample (real perpetuals the table was not fitted on)', async () => {
    const series = await loadDataset({ dir: join(REPO, 'data/sample/perp-5m') });
    // the uncalibrated normal bands covered 0.54–0.58 at 0.5 and 0.965–0.98 at 0.99
    const tolerance: Record<number, number> = { 0.5: 0.03, 0.8: 0.025, 0.9: 0.015, 0.95: 0.01, 0.99: 0.0075 };
    for (const s of series) {
      const cov = coverageOf(s.close, 7);
      expect(cov.length).toBe(BAND_LEVELS.length * 2);
      for (const c of cov) {
        expect(c.n).toBeGreaterThan(4000);
        expect(Math.abs(c.hits / c.n - c.level), `${s.symbol} level ${c.level} step ${c.step}`).toBeLessThan(
          tolerance[c.level]!,
        );
      }
    }
  }, 120_000);

  it('reports nested calibrated bands, the BAND_LEVEL one as lower_ci / upper_ci', () => {
    const closes = fixtureColumns('ETHUSDT').close.subarray(500, 500 + WINDOW);
    const f = garchForecast(closes, 30)!;
    const bands = BAND_LEVELS.map((level) => garchBand(f, level));
    const main = bands.find((b) => b.level === BAND_LEVEL)!;
    for (let k = 0; k < 30; k++) {
      expect(main.lower[k]).toBeCloseTo(f.lower_ci[k]!, 9);
      expect(main.upper[k]).toBeCloseTo(f.upper_ci[k]!, 9);
      for (let i = 1; i < bands.length; i++) {
        expect(bands[i]!.lower[k]!).toBeLessThan(bands[i - 1]!.lower[k]!);
        expect(bands[i]!.upper[k]!).toBeGreaterThan(bands[i - 1]!.upper[k]!);
      }
    }
    // the table's own steps come back exactly; between them z moves monotonically in ln(step); held past 24
    const last = CALIBRATION_STEPS[CALIBRATION_STEPS.length - 1]!;
    expect(calibratedZ(0.99, 12)).toBe(3.6973);
    expect(calibratedZ(0.99, 9)).toBeGreaterThan(calibratedZ(0.99, 6));
    expect(calibratedZ(0.99, 9)).toBeLessThan(calibratedZ(0.99, 12));
    expect(calibratedZ(0.99, 500)).toBe(calibratedZ(0.99, last));
  });

  it('widens its bands with the horizon and is deterministic', () => {
    const closes = fixtureColumns('BTCUSDT').close.subarray(300, 300 + WINDOW);
    const a = garchForecast(closes, 24)!;
    const b = garchForecast(closes, 24)!;
    expect(a).toEqual(b);
    for (let k = 1; k < 24; k++) {
      expect(a.upper_ci[k]! - a.lower_ci[k]!).toBeGreaterThan(a.upper_ci[k - 1]! - a.lower_ci[k - 1]!);
      expect(a.lower_ci[k]!).toBeLessThan(a.forecast[k]!);
      expect(a.upper_ci[k]!).toBeGreaterThan(a.forecast[k]!);
    }
    expect(a.confidence).toBeGreaterThanOrEqual(0.5);
    expect(a.confidence).toBeLessThan(1);
  });

  it('gives a directional view only for a statistically visible trend', () => {
    const closes = fixtureColumns('ETHUSDT').close;
    let directional = 0;
    let flat = 0;
    for (let t = WINDOW; t < closes.length; t += 8) {
      const f = garchForecast(closes.subarray(t - WINDOW, t), 12)!;
      if (f.drift === 0) {
        flat++;
        expect(f.confidence).toBe(0.5);
        expect(f.forecast[11]).toBe(closes[t - 1]);
      } else {
        directional++;
        // drift sign = sign of the window's net move (shrinkage never flips it)
        expect(Math.sign(f.drift)).toBe(Math.sign(closes[t - 1]! - closes[t - WINDOW]!));
      }
    }
    expect(directional).toBeGreaterThan(0);
    expect(flat).toBeGreaterThan(0);
  });

  it('scores real jumps as anomalous, relative to the current volatility regime', () => {
    const closes = fixtureColumns('BTCUSDT').close;
    let worst = { t: 0, r: 0 };
    for (let t = WINDOW; t < closes.length; t++) {
      const r = Math.abs(Math.log(closes[t]! / closes[t - 1]!));
      if (r > worst.r) worst = { t, r };
    }
    const jump = garchForecast(closes.subarray(worst.t - WINDOW + 1, worst.t + 1), 12)!;
    const scores: number[] = [];
    for (let t = WINDOW; t < closes.length; t++) {
      scores.push(garchForecast(closes.subarray(t - WINDOW + 1, t + 1), 12)!.anomaly_score);
    }
    scores.sort((a, b) => a - b);
    const p90 = scores[Math.floor(scores.length * 0.9)]!;
    expect(Math.abs(jump.z)).toBeGreaterThan(2);
    expect(jump.anomaly_score).toBeGreaterThan(p90);
    // typical bars are far from the block; the most extreme real bars (|z| > 3.9) reach it
    expect(scores[scores.length >> 1]!).toBeLessThan(0.2);
    expect(scores[scores.length - 1]!).toBeGreaterThan(0.8);
  });

  it('needs MIN_CLOSES positive closes', () => {
    const closes = fixtureColumns('BTCUSDT').close;
    expect(garchForecast(closes.subarray(0, MIN_CLOSES - 1), 12)).toBeNull();
    expect(garchForecast(closes.subarray(0, MIN_CLOSES), 12)).not.toBeNull();
    const broken = Array.from(closes.subarray(0, 32));
    broken[5] = 0;
    expect(garchForecast(broken, 12)).toBeNull();
  });
});

describe('ReturnsMemo', () => {
  it('gives bit-identical forecasts with or without the memo, whatever the call sequence', () => {
    const closes = fixtureColumns('ETHUSDT').close;
    const memo = new ReturnsMemo();
    // consecutive bars (the memo's fast path), repeats, jumps back and a shorter window
    const starts = [0, 1, 2, 3, 3, 4, 500, 501, 100, 101, 102, 900, 901, 902];
    for (const [i, t0] of starts.entries()) {
      const len = i === 11 ? 64 : WINDOW;
      const window = Array.from(closes.subarray(t0, t0 + len));
      const fresh = garchForecast(window, 12)!;
      const memoised = garchForecast(window, 12, memo)!;
      expect(memoised).toEqual(fresh);
    }
    const broken = Array.from(closes.subarray(10, 10 + WINDOW));
    broken[WINDOW - 1] = Number.NaN;
    expect(garchForecast(broken, 12, memo)).toBeNull();
    // a bad window leaves the memo usable
    const next = Array.from(closes.subarray(11, 11 + WINDOW));
    expect(garchForecast(next, 12, memo)).toEqual(garchForecast(next, 12));
  });
});
