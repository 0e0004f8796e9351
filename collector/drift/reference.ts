// Prepares a reference column once for every drift method (docs/drift.md, "Threshold calibration"): from
// raw reference rows (a CSV) or from a bundle's reference profile (shared/bundle/reference.ts). Either way
// the methods get a sorted sample, the summary statistics and chunk scores of consecutive chunks, so
// thresholds are calibrated on data with the reference's own autocorrelation.

import { quantileSorted } from 'simple-statistics';
import {
  binIndex,
  DEFAULT_REFERENCE_BINS,
  psi,
  type ChunkScores,
  type FeatureReference,
} from '../../shared/bundle/reference.ts';
import { fillAr1, Prng } from '../../shared/random.ts';
import { sortedCopy } from './sort.ts';
import { effectiveN, lag1Autocorr, MAX_RHO, normalCdf, wasserstein1 } from './stats.ts';
import type { ChunkSet, DriftCurrent, DriftReference } from './types.ts';

/** Fewest chunks a calibration needs; the chunk size shrinks (to at most N/20) to get them. */
export const MIN_CALIBRATION_CHUNKS = 20;
/** Chunks actually scored (evenly spaced through the reference when more fit): bounds the cost. */
export const MAX_CALIBRATION_CHUNKS = 50;
/** Largest chunk scored; larger windows are reached by rescaling (stats.ts calibrateFromChunks). */
export const MAX_CHUNK_ROWS = 5000;
/** Smallest auto chunk: shorter chunks say more about binning noise than about the reference. */
export const MIN_CHUNK_ROWS = 30;
/** Normal-consistent scale from the MAD. */
export const MAD_TO_SIGMA = 1.4826;

export interface PrepareOptions {
  /** Spread that W1 and the floor are measured in. Default std. */
  readonly scale?: 'std' | 'mad';
  /** Calibration chunk size, rows; 0 or absent = auto (chunkRowsFor). */
  readonly chunkRows?: number;
  /** Rows of the current column (sets the auto chunk size). */
  readonly currentRows: number;
  /** Seed of the AR(1) surrogate (bundle references). Default 1. */
  readonly seed?: number;
}

/** Auto chunk size: the current window's size, but small enough for MIN_CALIBRATION_CHUNKS chunks. */
export function chunkRowsFor(currentRows: number, referenceRows: number): number {
  return Math.max(
    1,
    Math.min(currentRows, Math.floor(referenceRows / MIN_CALIBRATION_CHUNKS), MAX_CHUNK_ROWS),
  );
}

const explicitChunk = (o: PrepareOptions): boolean => o.chunkRows !== undefined && o.chunkRows > 0;

function finiteSeries(values: ArrayLike<number>): { series: Float64Array; nonFinite: number } {
  const out = new Float64Array(values.length);
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return { series: out.subarray(0, k), nonFinite: values.length - k };
}

/** Evenly spaced order statistics (as reference.json's `sample`), at most k of them. */
export function orderSample(sorted: Float64Array, k: number): Float64Array {
  const n = sorted.length;
  if (n <= k) return sorted;
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = sorted[Math.floor(((i + 0.5) * n) / k)] as number;
  return out;
}

function madOf(sorted: Float64Array): number {
  const med = quantileSorted(sorted as unknown as number[], 0.5);
  const dev = Float64Array.from(sorted, (v) => Math.abs(v - med)).sort();
  return quantileSorted(dev as unknown as number[], 0.5);
}

function pickScale(
  basis: 'std' | 'mad',
  std: number,
  mad: () => number,
): { scale: number; scaleBasis: 'std' | 'mad' } {
  // A constant reference with the other basis still non-zero is measured in that one.
  const m = basis === 'mad' || std === 0 ? MAD_TO_SIGMA * mad() : Number.NaN;
  if (basis === 'mad' && m > 0) return { scale: m, scaleBasis: 'mad' };
  if (std > 0) return { scale: std, scaleBasis: 'std' };
  return { scale: Number.isFinite(m) ? m : 0, scaleBasis: 'mad' };
}

/** Start rows of up to MAX_CALIBRATION_CHUNKS consecutive chunks, evenly spread over n rows. */
function chunkStarts(n: number, c: number): number[] {
  const full = Math.floor(n / c);
  const k = Math.min(full, MAX_CALIBRATION_CHUNKS);
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(Math.floor((i * full) / k) * c);
  return out;
}

function binCounts(edges: readonly number[], values: ArrayLike<number>, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const b = binIndex(edges, values[i] as number);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/** A reference column from raw rows in time order (CSV). */
export function referenceFromColumn(
  name: string,
  values: ArrayLike<number>,
  options: PrepareOptions,
): DriftReference {
  const { series, nonFinite } = finiteSeries(values);
  const n = series.length;
  const sorted = sortedCopy(series);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += series[i] as number;
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((series[i] as number) - mean) ** 2;
  const std = n > 0 ? Math.sqrt(ss / n) : 0;
  let mad = Number.NaN;
  const madLazy = (): number => (Number.isNaN(mad) ? (mad = n > 0 ? madOf(sorted) : 0) : mad);
  const { scale, scaleBasis } = pickScale(options.scale ?? 'std', std, madLazy);
  // Quantile edges exactly as shared/bundle/reference.ts builds them (type-7, tied edges merged).
  const edges: number[] = [];
  if (n > 0)
    for (let k = 1; k < DEFAULT_REFERENCE_BINS; k++) {
      const e = quantileSorted(sorted as unknown as number[], k / DEFAULT_REFERENCE_BINS);
      if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
    }
  const counts = binCounts(edges, sorted, edges.length + 1);
  const lag1 = lag1Autocorr(series);
  const chunks: Record<string, ChunkSet> = {};
  const c =
    options.chunkRows !== undefined && options.chunkRows > 0
      ? options.chunkRows
      : chunkRowsFor(options.currentRows, n);
  const starts = n >= 2 * c && (explicitChunk(options) || c >= MIN_CHUNK_ROWS) ? chunkStarts(n, c) : [];
  if (starts.length >= 2 && scale > 0) {
    // W1 chunk scores against evenly spaced order statistics of the reference (at least one per chunk
    // value): the grid's own error is far below a chunk's sampling noise, and it bounds the cost.
    const grid = orderSample(sorted, Math.max(2000, c));
    const w1: number[] = [];
    const ps: number[] = [];
    for (const s of starts) {
      const chunk = series.subarray(s, s + c);
      w1.push(wasserstein1(Float64Array.from(chunk).sort(), grid) / scale);
      ps.push(psi(counts, binCounts(edges, chunk, counts.length)));
    }
    chunks.wasserstein = { chunkSize: c, scores: w1, origin: 'reference-chunks', inReference: true };
    chunks.psi = { chunkSize: c, scores: ps, origin: 'reference-chunks', inReference: true };
  }
  return {
    name,
    source: 'csv',
    n,
    nonFinite,
    sorted,
    series,
    mean,
    std,
    mad,
    lag1,
    nEff: effectiveN(n, lag1),
    scale,
    scaleBasis,
    binEdges: edges,
    counts,
    chunks,
  };
}

// Φ on a grid, interpolated: the surrogate maps millions of Gaussian values to uniforms.
const PHI_STEP = 0.001;
const PHI_MAX = 8;
let phiTable: Float64Array | null = null;
function phi(x: number): number {
  if (phiTable === null) {
    const k = Math.round((2 * PHI_MAX) / PHI_STEP) + 1;
    phiTable = new Float64Array(k);
    for (let i = 0; i < k; i++) phiTable[i] = normalCdf(-PHI_MAX + i * PHI_STEP);
  }
  if (x <= -PHI_MAX) return 0;
  if (x >= PHI_MAX) return 1;
  const t = (x + PHI_MAX) / PHI_STEP;
  const i = Math.floor(t);
  const a = phiTable[i] as number;
  return a + ((phiTable[i + 1] ?? 1) - a) * (t - i);
}

/**
 * W1 chunk scores for a bundle reference, which keeps no raw rows: chunks of a stationary Gaussian AR(1)
 * with the profile's lag-1 autocorrelation, mapped through the profile's quantiles (a Gaussian copula),
 * each compared with the profile's sample. Seeded (shared/random.ts), so the threshold is reproducible.
 */
function surrogateW1(
  sample: Float64Array,
  rho: number,
  c: number,
  scale: number,
  seed: number,
  name: string,
) {
  const rng = new Prng(seed, `drift-surrogate:${name}`);
  const r = Math.min(MAX_RHO, Math.max(0, rho));
  const k = sample.length;
  const scores: number[] = [];
  const noise = new Float64Array(c);
  const chunk = new Float64Array(c);
  for (let j = 0; j < MAX_CALIBRATION_CHUNKS; j++) {
    fillAr1(rng, noise, r);
    for (let i = 0; i < c; i++)
      chunk[i] = sample[Math.min(k - 1, Math.floor(phi(noise[i] as number) * k))] as number;
    scores.push(wasserstein1(Float64Array.from(chunk).sort(), sample) / scale);
  }
  return scores;
}

/** A reference column from a bundle's reference profile feature and its chunk scores. */
export function referenceFromProfile(
  feature: FeatureReference,
  chunkScores: readonly ChunkScores[],
  options: PrepareOptions,
): DriftReference {
  const sorted = Float64Array.from(feature.sample);
  const { scale, scaleBasis } = pickScale(options.scale ?? 'std', feature.std, () => feature.mad);
  const chunks: Record<string, ChunkSet> = {};
  const stored = chunkScores.find((c) => c.method === 'psi' && c.feature === feature.name);
  if (stored !== undefined && stored.scores.length >= 2)
    chunks.psi = {
      chunkSize: stored.chunkSize,
      scores: stored.scores,
      origin: 'bundle-chunk-scores',
      inReference: true,
    };
  const c =
    options.chunkRows !== undefined && options.chunkRows > 0
      ? options.chunkRows
      : chunkRowsFor(options.currentRows, feature.count);
  if (
    sorted.length >= 2 &&
    scale > 0 &&
    feature.count >= 2 * c &&
    (explicitChunk(options) || c >= MIN_CHUNK_ROWS)
  )
    chunks.wasserstein = {
      chunkSize: c,
      scores: surrogateW1(sorted, feature.lag1Autocorr, c, scale, options.seed ?? 1, feature.name),
      origin: 'ar1-surrogate',
      inReference: false,
    };
  return {
    name: feature.name,
    source: 'bundle',
    n: feature.count,
    nonFinite: feature.nonFinite,
    sorted,
    series: null,
    mean: feature.mean,
    std: feature.std,
    mad: feature.mad,
    lag1: feature.lag1Autocorr,
    nEff: effectiveN(feature.count, feature.lag1Autocorr),
    scale,
    scaleBasis,
    binEdges: feature.binEdges,
    counts: feature.counts,
    chunks,
  };
}

/** A current column: finite values in time order, sorted once. */
export function currentFromColumn(name: string, values: ArrayLike<number>): DriftCurrent {
  const { series, nonFinite } = finiteSeries(values);
  const lag1 = lag1Autocorr(series);
  return {
    name,
    series,
    sorted: sortedCopy(series),
    nonFinite,
    lag1,
    nEff: effectiveN(series.length, lag1),
  };
}
