import { z } from 'zod';
import type { AgentContext } from '../pipelines/ports.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import { anomalyScore, BAND_LEVEL, BAND_Z, normalCdf } from '../operators/agents/forecast.kernel.ts';
import { ForecastReply } from '../operators/agents/replies.ts';

/**
 * What a Lag-Llama / GluonTS forecast server may answer (request: see forecast-client.ts):
 * - `{samples: number[][]}` — sample paths, each `prediction_length` prices (GluonTS SampleForecast);
 * - `{quantiles: {"0.05": number[], "0.5": number[], "0.95": number[], …}}` — quantile paths keyed by
 *   level (GluonTS QuantileForecast); it must hold the median and the band levels asked for;
 * - the older `{forecast, lower_ci, upper_ci}` bands (90 % central), anomaly_score / confidence
 *   optional and ignored.
 * The platform derives everything it judges from the distribution, never asking the model:
 * median path, the central band at BAND_LEVEL, `confidence` = probability mass on the median's side
 * of the current price at the horizon, and `anomaly_score` = how unusual the decision bar's own
 * return is against the model's one-step spread (the embedded forecaster's scale).
 */
const path = z.array(z.number().finite().positive()).min(1);
export const LagLlamaReply = z.union([
  z.object({ samples: z.array(path).min(2, 'at least 2 sample paths') }),
  z.object({ quantiles: z.record(z.string(), path) }),
  z.object({
    forecast: path,
    lower_ci: path,
    upper_ci: path,
    anomaly_score: z.unknown().optional(),
    confidence: z.unknown().optional(),
  }),
]);
export type LagLlamaReply = z.infer<typeof LagLlamaReply>;

/** Quantile levels asked for: the median and the central BAND_LEVEL band. */
export const QUANTILE_LEVELS = [(1 - BAND_LEVEL) / 2, 0.5, 1 - (1 - BAND_LEVEL) / 2].map((q) => Number(q.toFixed(4)));

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

interface Bands {
  median: number[];
  lower: number[];
  upper: number[];
  /** P(price at the horizon end > current price) */
  upProbability: number;
}

function fromSamples(samples: readonly (readonly number[])[], price: number): Bands {
  const h = samples[0]!.length;
  if (samples.some((s) => s.length !== h)) throw new AgentError('invalid-reply', 'sample paths differ in length');
  const [qLo, , qHi] = QUANTILE_LEVELS as [number, number, number];
  const median: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  for (let k = 0; k < h; k++) {
    const col = samples.map((s) => s[k]!).sort((a, b) => a - b);
    median.push(quantile(col, 0.5));
    lower.push(quantile(col, qLo));
    upper.push(quantile(col, qHi));
  }
  const up = samples.filter((s) => s[h - 1]! > price).length / samples.length;
  return { median, lower, upper, upProbability: up };
}

function fromQuantiles(quantiles: Record<string, readonly number[]>, price: number): Bands {
  const levels = Object.keys(quantiles)
    .map((k) => ({ q: Number(k), path: quantiles[k]! }))
    .filter((l) => Number.isFinite(l.q) && l.q > 0 && l.q < 1)
    .sort((a, b) => a.q - b.q);
  const at = (q: number) => levels.find((l) => Math.abs(l.q - q) < 1e-6)?.path;
  const [qLo, qMid, qHi] = QUANTILE_LEVELS as [number, number, number];
  const median = at(qMid);
  const lower = at(qLo);
  const upper = at(qHi);
  if (!median || !lower || !upper) {
    throw new AgentError('invalid-reply', `quantiles must include levels ${QUANTILE_LEVELS.join(', ')}`);
  }
  const h = median.length;
  if (levels.some((l) => l.path.length !== h)) throw new AgentError('invalid-reply', 'quantile paths differ in length');
  // the CDF at the current price, at the horizon end, by linear interpolation between levels
  const ends = levels.map((l) => ({ q: l.q, x: l.path[h - 1]! }));
  let below: number;
  if (price <= ends[0]!.x) below = ends[0]!.q / 2;
  else if (price >= ends.at(-1)!.x) below = (1 + ends.at(-1)!.q) / 2;
  else {
    const i = ends.findIndex((e) => e.x >= price);
    const a = ends[i - 1]!;
    const b = ends[i]!;
    below = b.x === a.x ? b.q : a.q + ((price - a.x) / (b.x - a.x)) * (b.q - a.q);
  }
  return { median: [...median], lower: [...lower], upper: [...upper], upProbability: 1 - below };
}

/** The reply as the bands and scores the platform judges (pure; also at tape replay). */
export function forecastFromReply(reply: LagLlamaReply, ctx: Pick<AgentContext, 'price' | 'closes'>): ForecastReply {
  const price = ctx.price;
  let bands: Bands;
  if ('samples' in reply) bands = fromSamples(reply.samples, price);
  else if ('quantiles' in reply) bands = fromQuantiles(reply.quantiles, price);
  else {
    // legacy bands: a normal reading of the 90 % band at the horizon end
    const h = reply.forecast.length;
    if (reply.lower_ci.length !== h || reply.upper_ci.length !== h) {
      throw new AgentError('invalid-reply', 'forecast, lower_ci and upper_ci must have the same length');
    }
    const sd = Math.max(1e-12, (Math.log(reply.upper_ci[h - 1]!) - Math.log(reply.lower_ci[h - 1]!)) / (2 * BAND_Z));
    const zEnd = Math.log(reply.forecast[h - 1]! / price) / sd;
    bands = {
      median: reply.forecast,
      lower: reply.lower_ci,
      upper: reply.upper_ci,
      upProbability: normalCdf(zEnd),
    };
  }
  if (bands.lower.some((lo, i) => lo > bands.upper[i]!))
    throw new AgentError('invalid-reply', 'lower band above upper');
  // one-step log spread implied by the model vs the decision bar's own log return
  const sigma1 = Math.max(1e-12, (Math.log(bands.upper[0]!) - Math.log(bands.lower[0]!)) / (2 * BAND_Z));
  const n = ctx.closes.length;
  const lastReturn = n >= 2 ? Math.log(ctx.closes[n - 1]! / ctx.closes[n - 2]!) : 0;
  const endUp = bands.median[bands.median.length - 1]! >= price;
  return {
    forecast: bands.median,
    lower_ci: bands.lower,
    upper_ci: bands.upper,
    anomaly_score: anomalyScore(lastReturn / sigma1),
    confidence: endUp ? bands.upProbability : 1 - bands.upProbability,
  };
}
