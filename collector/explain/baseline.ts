// The reference profile seen from the explanations (docs/explanations.md): the baseline row is each
// feature's reference median, and quantile space is the reference's empirical distribution, read from the
// sorted sample every profile keeps (shared/bundle/reference.ts).

import type { FeatureReference, ReferenceProfile } from '../../shared/bundle/reference.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';

/** The reference entries in the model's input order, or which input features the profile lacks. */
export function referenceInInputOrder(
  profile: ReferenceProfile,
  featureNames: readonly string[],
): Result<FeatureReference[]> {
  const byName = new Map(profile.features.map((f) => [f.name, f]));
  const missing = featureNames.filter((n) => !byName.has(n));
  if (missing.length > 0)
    return fail(
      'EDGELOOP_ERR_EXPLAIN_INPUT',
      `the reference profile has no statistics for ${missing.length} input features (e.g. ${missing.slice(0, 3).join(', ')})`,
    );
  return ok(featureNames.map((n) => byName.get(n) as FeatureReference));
}

/** Value at quantile q in [0, 1] of a sorted sample, linearly interpolated (type 7). */
export function valueAtQuantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(n - 1, lo + 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Inverse of valueAtQuantile: where x falls in the sorted sample, in [0, 1] (ties take their middle). */
export function quantileOfValue(sorted: readonly number[], x: number): number {
  const n = sorted.length;
  if (n <= 1) return 0.5;
  if (x <= (sorted[0] as number)) return 0;
  if (x >= (sorted[n - 1] as number)) return 1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  // sorted[lo] <= x < sorted[hi]; walk back over ties equal to x to take their middle rank.
  let first = lo;
  while (first > 0 && (sorted[first - 1] as number) === x) first--;
  if ((sorted[lo] as number) === x) return (first + lo) / 2 / (n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return (lo + (x - a) / (b - a)) / (n - 1);
}

/** The baseline row: each input feature's reference median (its mean when the profile kept no sample). */
export function baselineRow(features: readonly FeatureReference[]): Float32Array {
  return Float32Array.from(features, (f) => (f.sample.length > 0 ? valueAtQuantile(f.sample, 0.5) : f.mean));
}
