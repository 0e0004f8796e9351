// The per-feature statistics of reference.json (docs/model-bundle.md, "reference.json"), shared by the
// pooled profile (./reference.ts) and the class-conditional one (./class-reference.ts), so a class's mean,
// MAD or bin counts are computed exactly as the pooled ones are and drift code can compare them.

import { quantileSorted } from 'simple-statistics';

/** The bin a value falls in: the number of edges strictly below it. Binary search, O(log bins). */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ValueStats {
  /** Finite values seen; non-finite ones are counted apart and left out of every statistic. */
  readonly count: number;
  readonly nonFinite: number;
  readonly mean: number;
  /** Population standard deviation (divides by n). */
  readonly std: number;
  /** Median absolute deviation from the median, unscaled. */
  readonly mad: number;
  readonly min: number;
  readonly max: number;
  /** Lag-1 autocorrelation over the values in the order given; 0 when the variance is 0. */
  readonly lag1Autocorr: number;
  /** The finite values, sorted ascending. */
  readonly sorted: readonly number[];
}

/** Statistics of the finite values (all zero when there are none). */
export function valueStats(values: ArrayLike<number>): ValueStats {
  const finite: number[] = [];
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) finite.push(v);
    else nonFinite++;
  }
  const n = finite.length;
  if (n === 0)
    return { count: 0, nonFinite, mean: 0, std: 0, mad: 0, min: 0, max: 0, lag1Autocorr: 0, sorted: [] };
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  let ss = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    const d = (finite[i] as number) - mean;
    ss += d * d;
    if (i + 1 < n) cross += d * ((finite[i + 1] as number) - mean);
  }
  const sorted = Array.from(Float64Array.from(finite).sort());
  // Type-7 (linear interpolation) quantiles, simple-statistics' and numpy's default; the edges and MAD are
  // bytes of reference.json, so the method is part of the format (docs/model-bundle.md).
  const median = quantileSorted(sorted, 0.5);
  const absDev = Array.from(Float64Array.from(finite, (v) => Math.abs(v - median)).sort());
  return {
    count: n,
    nonFinite,
    mean,
    std: Math.sqrt(ss / n),
    mad: quantileSorted(absDev, 0.5),
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    lag1Autocorr: ss === 0 ? 0 : cross / ss,
    sorted,
  };
}

/** Interior type-7 quantile cut points of sorted values, strictly increasing (ties merged). */
export function quantileEdges(sorted: readonly number[], bins: number): number[] {
  const edges: number[] = [];
  if (sorted.length === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const e = quantileSorted(sorted, k / bins);
    if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
  }
  return edges;
}

/** Values per bin of `edges` (binIndex rule); edges.length + 1 entries. */
export function binCounts(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    const b = binIndex(edges, v);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/** At most k evenly spaced order statistics of sorted values (deterministic, no RNG). */
export function orderSample(sorted: readonly number[], k: number): number[] {
  const n = sorted.length;
  const m = Math.min(k, n);
  const out: number[] = [];
  for (let i = 0; i < m; i++) out.push(sorted[Math.floor(((i + 0.5) * n) / m)] as number);
  return out;
}
