// A feature's reference distribution against its current one, for the dashboard's device view: both as
// densities over the same equal-width bins, so one chart overlays them. The reference is the model's
// reference profile (its sorted sample of training rows); the current one is the device's latest windows.

import type { ReferenceProfile } from '../../shared/bundle/reference.ts';

export interface Distribution {
  readonly feature: string;
  /** Bin centres. */
  readonly x: readonly number[];
  /** Share of values per bin (each sums to 1), or null when there is nothing to show on that side. */
  readonly reference: readonly number[] | null;
  readonly current: readonly number[] | null;
  readonly referenceStats: { readonly mean: number; readonly std: number; readonly n: number } | null;
  readonly currentStats: { readonly mean: number; readonly std: number; readonly n: number } | null;
}

const BINS = 40;

function stats(xs: readonly number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  return { mean, std, n };
}

function density(xs: readonly number[], lo: number, width: number): number[] {
  const out = new Array<number>(BINS).fill(0);
  for (const x of xs) {
    const i = Math.min(BINS - 1, Math.max(0, Math.floor((x - lo) / width)));
    out[i] = (out[i] as number) + 1 / xs.length;
  }
  return out;
}

/** `current`: the feature's values in the device's latest windows (non-finite ones are dropped). */
export function distribution(
  feature: string,
  profile: ReferenceProfile | undefined,
  current: readonly number[],
): Distribution {
  const ref = profile?.features.find((f) => f.name === feature)?.sample ?? [];
  const cur = current.filter(Number.isFinite);
  const all = [...ref, ...cur];
  if (all.length === 0)
    return { feature, x: [], reference: null, current: null, referenceStats: null, currentStats: null };
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / BINS;
  return {
    feature,
    x: Array.from({ length: BINS }, (_, i) => lo + (i + 0.5) * width),
    reference: ref.length === 0 ? null : density(ref, lo, width),
    current: cur.length === 0 ? null : density(cur, lo, width),
    referenceStats: ref.length === 0 ? null : stats(ref),
    currentStats: cur.length === 0 ? null : stats(cur),
  };
}
