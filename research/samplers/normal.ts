import { probit } from 'simple-statistics';

const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Complementary error function with small relative error in both tails (Chebyshev fit,
 * fractional error below 1.2e-7), so far-tail masses keep their order of magnitude.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function phi(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** P(a < Z < b) for a standard normal Z, computed on the side that avoids cancellation. */
export function normalMass(a: number, b: number): number {
  if (b <= a) return 0;
  if (a >= 0) return 0.5 * (erfc(a / SQRT2) - erfc(b / SQRT2));
  if (b <= 0) return 0.5 * (erfc(-b / SQRT2) - erfc(-a / SQRT2));
  return 1 - 0.5 * erfc(-a / SQRT2) - 0.5 * erfc(b / SQRT2);
}

export function normalLogPdf(x: number, mu: number, sigma: number): number {
  const z = (x - mu) / sigma;
  return -0.5 * z * z - Math.log(sigma) - LOG_SQRT_2PI;
}

/** A draw from N(mu, sigma) truncated to [lo, hi] by inversion (mirrored for right-tail windows). */
export function sampleTruncatedNormal(mu: number, sigma: number, lo: number, hi: number, rng: () => number): number {
  let a = (lo - mu) / sigma;
  let b = (hi - mu) / sigma;
  const mirrored = a > 0;
  if (mirrored) [a, b] = [-b, -a];
  const pa = phi(a);
  const pb = phi(b);
  let x: number;
  if (pb - pa <= 1e-300) {
    x = mirrored ? -a : a; // numerically empty: the nearest end
  } else {
    const u = pa + rng() * (pb - pa);
    const p = Math.min(1 - 1e-16, Math.max(1e-300, u));
    const z = probit(p);
    x = mirrored ? -z : z;
  }
  return Math.min(hi, Math.max(lo, mu + sigma * x));
}

export function logSumExp(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}
