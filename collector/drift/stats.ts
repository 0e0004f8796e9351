// Statistics the drift methods share and no maintained package offers on Float64Arrays: two-sample KS D
// and Wasserstein-1 on sorted samples (one merge walk, O(n + m)), the Kolmogorov tail, lag-1
// autocorrelation, the AR(1) effective sample size, and scaling a chunk-score threshold to another window
// size (docs/drift.md). Means and deviations come from simple-statistics.

import { errorFunction, mean, standardDeviation } from 'simple-statistics';
import type { ChunkSet } from './types.ts';

/** Lag-1 autocorrelation of values in time order (0 when the variance is 0), as shared/bundle/reference.ts. */
export function lag1Autocorr(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 0;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i] as number;
  m /= n;
  let ss = 0;
  let cross = 0;
  let prev = (xs[0] as number) - m;
  ss += prev * prev;
  for (let i = 1; i < n; i++) {
    const d = (xs[i] as number) - m;
    ss += d * d;
    cross += prev * d;
    prev = d;
  }
  return ss === 0 ? 0 : cross / ss;
}

/** Largest ρ used in n_eff: beyond it one sample is worth almost nothing and n_eff would be 0. */
export const MAX_RHO = 0.99;

/**
 * Effective sample size of an AR(1) series: n (1 - ρ) / (1 + ρ), the n that gives an i.i.d. mean the same
 * variance. ρ is clamped to [0, MAX_RHO]: a negative ρ would claim n_eff > n, which we never do.
 */
export function effectiveN(n: number, rho: number): number {
  const r = Math.min(MAX_RHO, Math.max(0, rho));
  return (n * (1 - r)) / (1 + r);
}

/**
 * Variance inflation of the mean of w consecutive AR(1) values: Var(mean) = σ² g / w. Tends to
 * (1 + ρ)/(1 - ρ) for long windows; smaller for windows not much longer than the correlation time.
 */
export function ar1MeanInflation(w: number, rho: number): number {
  const r = Math.min(MAX_RHO, Math.max(0, rho));
  if (r === 0) return 1;
  return (1 + r) / (1 - r) - (2 * r * (1 - r ** w)) / (w * (1 - r) ** 2);
}

/** Two-sample KS statistic D = sup |F_a - F_b| for two ascending samples. */
export function ksStatistic(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 0;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i] as number, b[j] as number);
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
    const diff = Math.abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  return d;
}

/** Wasserstein-1 distance ∫ |F_a - F_b| dx between two ascending samples (exact for the empirical CDFs). */
export function wasserstein1(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 0;
  let i = 0;
  let j = 0;
  let x = Math.min(a[0] as number, b[0] as number);
  let area = 0;
  while (i < n || j < m) {
    const next =
      j >= m || (i < n && (a[i] as number) <= (b[j] as number)) ? (a[i] as number) : (b[j] as number);
    area += Math.abs(i / n - j / m) * (next - x);
    x = next;
    while (i < n && (a[i] as number) <= x) i++;
    while (j < m && (b[j] as number) <= x) j++;
  }
  return area;
}

/** Kolmogorov distribution tail Q(λ) = 2 Σ (-1)^(j-1) exp(-2 j² λ²). */
export function kolmogorovTail(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += j % 2 === 1 ? term : -term;
    if (term < 1e-12) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Stephens' small-sample factor: p = Q((√ne + 0.12 + 0.11/√ne) D), ne = n1 n2 / (n1 + n2). */
function ksScale(n1: number, n2: number): number {
  const en = Math.sqrt((n1 * n2) / (n1 + n2));
  return en + 0.12 + 0.11 / en;
}

/** Asymptotic two-sample KS p-value for D with (effective) sample sizes n1, n2. */
export function ksPValue(d: number, n1: number, n2: number): number {
  if (n1 <= 0 || n2 <= 0) return 1;
  return kolmogorovTail(ksScale(n1, n2) * d);
}

/** The D whose p-value is alpha for (effective) sample sizes n1, n2 (bisection on λ). */
export function ksCriticalD(alpha: number, n1: number, n2: number): number {
  let lo = 0.2;
  let hi = 5;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (kolmogorovTail(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi / ksScale(n1, n2);
}

/** Standard normal CDF via simple-statistics' error function. */
export function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/** How a score's null spread shrinks with sample size: √(1/n) for D and W1, 1/n for PSI (χ²-like). */
export type ScoreScaling = 'sqrt' | 'linear';

/** Chunk-score calibration: mean + k·sd of the chunk scores normalised to unit size, then rescaled. */
export interface ChunkCalibration {
  readonly threshold: number;
  readonly chunks: number;
  readonly chunkSize: number;
}

/**
 * A threshold for a window of `m` values against a reference of `nRef`, from scores of reference chunks
 * of `chunkSize` consecutive values. Each chunk score is divided by its null scale (chunk vs the whole
 * reference it belongs to: 1/c - 1/N; an independent chunk: 1/c), the threshold is mean + k·sd of those,
 * and is multiplied back by the live comparison's scale (1/m + 1/N). Autocorrelation is inside the chunk
 * scores (consecutive chunks), so it carries over; the square root for D and W1, none for PSI.
 */
export function calibrateFromChunks(
  scores: readonly number[],
  chunkSize: number,
  nRef: number,
  m: number,
  scaling: ScoreScaling,
  k: number,
  chunkInReference: boolean,
): ChunkCalibration | null {
  if (scores.length < 2 || chunkSize < 1 || m < 1) return null;
  const chunkVar = chunkInReference ? 1 / chunkSize - 1 / nRef : 1 / chunkSize;
  if (!(chunkVar > 0)) return null;
  const liveVar = 1 / m + (nRef > 0 ? 1 / nRef : 0);
  const f = (v: number): number => (scaling === 'sqrt' ? Math.sqrt(v) : v);
  const z = scores.map((s) => s / f(chunkVar));
  const t = mean(z) + k * standardDeviation(z);
  return { threshold: t * f(liveVar), chunks: scores.length, chunkSize };
}

/** calibrateFromChunks on one method's chunk set; null when there is none or it cannot calibrate. */
export function calibrateChunkSet(
  chunks: ChunkSet | undefined,
  nRef: number,
  m: number,
  scaling: ScoreScaling,
  k: number,
): ChunkCalibration | null {
  if (chunks === undefined) return null;
  return calibrateFromChunks(chunks.scores, chunks.chunkSize, nRef, m, scaling, k, chunks.inReference);
}
