// The drift strategy interface (issue #9 §4, STYLE.md: one file per method). A method compares one
// current column with one prepared reference column and returns its score, the threshold it used and
// where that threshold came from, n and n_eff, and a verdict. docs/drift.md documents every field.

/** `insufficient_data`: too few values (or effective values) to judge; never a silent "ok". */
export type Verdict = 'ok' | 'drift' | 'insufficient_data';

/**
 * Where a threshold came from:
 * - `reference-chunks`: mean + k·sd of the scores of consecutive chunks of the reference CSV;
 * - `bundle-chunk-scores`: the same, from the chunk scores stored in the bundle's reference.json;
 * - `ar1-surrogate`: chunks of a seeded AR(1) surrogate built from the bundle's sorted sample and lag-1
 *   autocorrelation (a bundle keeps no raw rows);
 * - `n-eff-p-value`: the KS critical D at alpha on the effective sample sizes;
 * - `arl`: the CUSUM limit for a target average run length;
 * - `physical-floor`: the effect-size floor was larger than the statistical threshold.
 */
export type ThresholdOrigin =
  'reference-chunks' | 'bundle-chunk-scores' | 'ar1-surrogate' | 'n-eff-p-value' | 'arl' | 'physical-floor';

export interface Threshold {
  /** The threshold applied: max(statistical, floor). */
  readonly value: number;
  readonly origin: ThresholdOrigin;
  /** The statistical threshold before the floor. */
  readonly statistical: number;
  /** The physical floor in this score's units (the score of a floor-sized mean shift). */
  readonly floor: number;
  /** Human-readable provenance: chunk count and size, alpha, ARL. */
  readonly detail: string;
}

export interface MethodResult {
  readonly method: string;
  /** NaN when the verdict is insufficient_data. */
  readonly score: number;
  readonly threshold: Threshold | null;
  /** Finite current values used. */
  readonly n: number;
  /** The current column's effective sample size (AR(1)). */
  readonly nEff: number;
  readonly verdict: Verdict;
  /** Method-specific evidence (p-values, alarm row, CUSUM k), all numbers. */
  readonly evidence: Readonly<Record<string, number>>;
  /** Why the verdict is insufficient_data, or other caveats. */
  readonly note?: string;
}

/** Chunk scores of one method: consecutive reference chunks, each compared with the whole reference. */
export interface ChunkSet {
  readonly chunkSize: number;
  readonly scores: readonly number[];
  readonly origin: 'reference-chunks' | 'bundle-chunk-scores' | 'ar1-surrogate';
  /** true when each chunk is part of the reference it was compared with (changes the null scale). */
  readonly inReference: boolean;
}

/** One reference column, prepared once (sorted, summarised, chunk-scored) and reused for every method. */
export interface DriftReference {
  readonly name: string;
  readonly source: 'csv' | 'bundle';
  /** Finite reference values. */
  readonly n: number;
  readonly nonFinite: number;
  /** Ascending: every reference value (CSV) or the bundle's evenly spaced order statistics. */
  readonly sorted: Float64Array;
  /** Time-ordered values, CSV only (the CUSUM calibrates its window-mean spread on them). */
  readonly series: Float64Array | null;
  readonly mean: number;
  readonly std: number;
  /** NaN for a CSV reference unless the MAD scale was needed (it costs a second sort). */
  readonly mad: number;
  readonly lag1: number;
  readonly nEff: number;
  /** The spread W1 and the floor are measured in: std, or 1.4826·MAD (docs/drift.md). */
  readonly scale: number;
  readonly scaleBasis: 'std' | 'mad';
  readonly binEdges: readonly number[];
  readonly counts: readonly number[];
  /** Chunk scores per method name (`psi`, `wasserstein`); absent when the reference is too short. */
  readonly chunks: Readonly<Record<string, ChunkSet>>;
}

/** One current column: finite values in time order, and the same sorted. */
export interface DriftCurrent {
  readonly name: string;
  readonly series: Float64Array;
  readonly sorted: Float64Array;
  readonly nonFinite: number;
  readonly lag1: number;
  readonly nEff: number;
}

export interface DriftOptions {
  /** Physical floor: the smallest mean shift worth an alert, in units of the reference scale. Default 0.1. */
  readonly floorScale: number;
  /** k in mean + k·sd of normalised chunk scores. Default 3. */
  readonly chunkSdK: number;
  /** KS significance on effective sample sizes. Default 0.01. */
  readonly ksAlpha: number;
  /** Fewest finite current (and reference) values to judge at all. Default 100. */
  readonly minSamples: number;
  /** Fewest effective current values (AR(1) n_eff) to judge. Default 20. */
  readonly minEffectiveSamples: number;
  /** CUSUM window, rows; 0 = auto: 10 correlation times, 50..1000. */
  readonly cusumWindowRows: number;
  /** CUSUM: probability of a false alarm anywhere in the current column (sets the ARL). Default 0.01. */
  readonly cusumFalseAlarm: number;
  /** Methods that must say drift for the column to drift. Default 2. */
  readonly minVotes: number;
}

export const driftDefaults: DriftOptions = Object.freeze({
  floorScale: 0.1,
  chunkSdK: 3,
  ksAlpha: 0.01,
  minSamples: 100,
  minEffectiveSamples: 20,
  cusumWindowRows: 0,
  cusumFalseAlarm: 0.01,
  minVotes: 2,
});

/** A drift method (strategy). */
export interface DriftMethod {
  readonly name: string;
  evaluate(ref: DriftReference, cur: DriftCurrent, options: DriftOptions): MethodResult;
}

/** The result for one column: every method, and the combined verdict. */
export interface ColumnResult {
  readonly name: string;
  readonly verdict: Verdict;
  /** Methods that said drift, methods that could judge, and the votes needed. */
  readonly votes: { readonly drift: number; readonly decisive: number; readonly needed: number };
  readonly n: number;
  readonly nEff: number;
  readonly nonFinite: number;
  readonly lag1: number;
  readonly reference: {
    readonly source: 'csv' | 'bundle';
    readonly n: number;
    readonly nEff: number;
    readonly lag1: number;
    readonly mean: number;
    readonly scale: number;
    readonly scaleBasis: 'std' | 'mad';
  };
  /** Current mean minus reference mean, in reference scales (σ by default): the effect size. */
  readonly meanShiftScales: number;
  readonly methods: readonly MethodResult[];
}
