// The drift reference profile (docs/model-bundle.md, "reference.json"): what the training data looked
// like, per model input feature, kept in a bundle file of role `reference`. Drift monitors compare live
// windows against it, and the chunk-score distributions let them calibrate thresholds on the reference
// itself, which matters because sensor features are autocorrelated (PRODUCT.md: KS at p<=0.05 flags ~70%
// of windows of a stationary AR(1) process). One implementation, used by `edgeloop train` and by
// `edgeloop registry push --onnx` alike.

import { z } from 'zod';
import { fail, ok, type Result } from '../errors.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import {
  buildClassProfiles,
  classProfileProblems,
  classProfileSchema,
  DEFAULT_CLASS_SAMPLE,
  MAX_CLASS_SAMPLE,
  type ClassFeatureReference,
} from './class-reference.ts';
import { formatIssues, type ReferenceSummary } from './manifest.ts';
import { binCounts, binIndex, orderSample, quantileEdges, valueStats } from './reference-stats.ts';

// binIndex lives with the statistics it belongs to; re-exported here, where drift code has always found it.
export { binIndex };
export type { ClassFeatureReference };

export const REFERENCE_FILE = 'reference.json';
export const DEFAULT_REFERENCE_BINS = 10;
export const DEFAULT_REFERENCE_SAMPLE = 2000;
export const MAX_REFERENCE_SAMPLE = 10_000;
export const DEFAULT_CHUNK_ROWS = 50;
/** PSI smoothing: an empty bin counts as this proportion, so log(0) never happens. */
export const PSI_EPSILON = 1e-4;

const ascending = (xs: readonly number[]): boolean =>
  xs.every((x, i) => i === 0 || (xs[i - 1] as number) < x);

export const featureReferenceSchema = z
  .strictObject({
    name: z.string().min(1),
    /** Finite values seen; non-finite ones are counted apart and left out of every statistic. */
    count: z.number().int().nonnegative(),
    nonFinite: z.number().int().nonnegative(),
    /** Interior quantile cut points, strictly increasing (tied quantiles are merged, so there may be fewer). */
    binEdges: z.array(z.number()),
    /** counts[k] holds values x with binEdges[k-1] < x <= binEdges[k]; see binIndex(). */
    counts: z.array(z.number().int().nonnegative()),
    mean: z.number(),
    /** Population standard deviation (divides by n). */
    std: z.number().nonnegative(),
    /** Median absolute deviation from the median, unscaled (multiply by 1.4826 for a normal-consistent sigma). */
    mad: z.number().nonnegative(),
    min: z.number(),
    max: z.number(),
    /** Lag-1 autocorrelation over rows in time order; 0 when the variance is 0. */
    lag1Autocorr: z.number(),
    /** Evenly spaced order statistics of the values: sorted, at most MAX_REFERENCE_SAMPLE points. */
    sample: z.array(z.number()).max(MAX_REFERENCE_SAMPLE),
  })
  .superRefine((f, ctx) => {
    if (!ascending(f.binEdges))
      ctx.addIssue({ code: 'custom', message: `${f.name}: binEdges must increase strictly` });
    if (f.counts.length !== f.binEdges.length + 1)
      ctx.addIssue({ code: 'custom', message: `${f.name}: counts must have binEdges.length + 1 entries` });
    if (f.sample.some((x, i) => i > 0 && (f.sample[i - 1] as number) > x))
      ctx.addIssue({ code: 'custom', message: `${f.name}: sample must be sorted` });
  });
export type FeatureReference = z.infer<typeof featureReferenceSchema>;

export const chunkScoresSchema = z.strictObject({
  /** Drift method name, e.g. `psi` (computed here) or one a drift strategy adds. */
  method: z.string().min(1),
  /** Consecutive reference rows per chunk (consecutive, not shuffled: autocorrelation is kept). */
  chunkSize: z.number().int().min(1),
  /** The feature scored, or null for a score over all features at once. */
  feature: z.string().min(1).nullable(),
  /** One score per full chunk, in time order. */
  scores: z.array(z.number()),
});
export type ChunkScores = z.infer<typeof chunkScoresSchema>;

export const referenceProfileSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    rows: z.number().int().nonnegative(),
    features: z.array(featureReferenceSchema).min(1),
    chunkScores: z.array(chunkScoresSchema),
    /**
     * Optional, added within schemaVersion 1 (older files lack it): per label, the class-conditional
     * profile (./class-reference.ts). Present when the rows' labels were known at build time.
     */
    classes: z.array(classProfileSchema).optional(),
  })
  .superRefine((p, ctx) => {
    for (const message of classProfileProblems(p.classes ?? [], p.features, p.rows))
      ctx.addIssue({ code: 'custom', path: ['classes'], message });
  });
export type ReferenceProfile = z.infer<typeof referenceProfileSchema>;

/** Population stability index of `actual` counts against `expected` counts over the same bins. */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  const te = expected.reduce((a, b) => a + b, 0);
  const ta = actual.reduce((a, b) => a + b, 0);
  if (te === 0 || ta === 0) return 0;
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max((expected[i] as number) / te, epsilon);
    const a = Math.max((actual[i] ?? 0) / ta, epsilon);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

export interface ReferenceOptions {
  /** Quantile bins per feature. Default 10. */
  readonly bins?: number;
  /** Sorted subsample points per feature. Default 2000, at most 10000. */
  readonly sampleSize?: number;
  /** Rows per reference chunk for chunk scores. Default 50. */
  readonly chunkRows?: number;
  /**
   * The label of each row (same length as the columns). Given, the profile gets `classes`, one
   * class-conditional profile per distinct label; absent (registry push --onnx), it has none.
   */
  readonly labels?: readonly string[];
  /** Sorted subsample points per class and feature. Default 500, at most 2000. */
  readonly classSampleSize?: number;
}

export interface FeatureColumn {
  readonly name: string;
  /** One value per row, rows in time order (lag-1 autocorrelation depends on it). */
  readonly values: ArrayLike<number>;
}

function featureReference(col: FeatureColumn, bins: number, sampleSize: number): FeatureReference {
  const { sorted, ...stats } = valueStats(col.values);
  const binEdges = quantileEdges(sorted, bins);
  return {
    name: col.name,
    ...stats,
    binEdges,
    counts: binCounts(sorted, binEdges),
    sample: orderSample(sorted, sampleSize),
  };
}

/** PSI of each full chunk of consecutive rows against the whole reference, per feature. */
function psiChunkScores(
  cols: readonly FeatureColumn[],
  feats: readonly FeatureReference[],
  chunkRows: number,
): ChunkScores[] {
  return cols.map((col, j) => {
    const f = feats[j] as FeatureReference;
    const scores: number[] = [];
    for (let start = 0; start + chunkRows <= col.values.length; start += chunkRows) {
      const counts = new Array<number>(f.counts.length).fill(0);
      for (let i = start; i < start + chunkRows; i++) {
        const v = col.values[i] as number;
        if (Number.isFinite(v))
          counts[binIndex(f.binEdges, v)] = (counts[binIndex(f.binEdges, v)] as number) + 1;
      }
      scores.push(psi(f.counts, counts));
    }
    return { method: 'psi', chunkSize: chunkRows, feature: col.name, scores };
  });
}

/**
 * Builds the reference profile from feature columns of equal length (rows in time order). Adds `psi`
 * chunk scores; pass `extraChunkScores` for other drift methods' calibrations.
 */
export function buildReferenceProfile(
  columns: readonly FeatureColumn[],
  options: ReferenceOptions = {},
  extraChunkScores: readonly ChunkScores[] = [],
): Result<ReferenceProfile> {
  const bins = options.bins ?? DEFAULT_REFERENCE_BINS;
  const sampleSize = options.sampleSize ?? DEFAULT_REFERENCE_SAMPLE;
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const classSample = options.classSampleSize ?? DEFAULT_CLASS_SAMPLE;
  if (
    !Number.isInteger(bins) ||
    bins < 1 ||
    !Number.isInteger(sampleSize) ||
    sampleSize < 0 ||
    sampleSize > MAX_REFERENCE_SAMPLE ||
    !Number.isInteger(chunkRows) ||
    chunkRows < 1 ||
    !Number.isInteger(classSample) ||
    classSample < 0 ||
    classSample > MAX_CLASS_SAMPLE
  ) {
    return fail(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `reference options out of range (bins ${bins}, sampleSize ${sampleSize} <= ${MAX_REFERENCE_SAMPLE}, chunkRows ${chunkRows}, classSampleSize ${classSample} <= ${MAX_CLASS_SAMPLE})`,
    );
  }
  const first = columns[0];
  if (first === undefined)
    return fail('EDGELOOP_ERR_CONFIG_INVALID', 'reference profile needs at least one feature column');
  const rows = first.values.length;
  if (columns.some((c) => c.values.length !== rows))
    return fail('EDGELOOP_ERR_CONFIG_INVALID', 'reference feature columns differ in length');
  if (new Set(columns.map((c) => c.name)).size !== columns.length)
    return fail('EDGELOOP_ERR_CONFIG_INVALID', 'duplicate feature name in reference');
  const labels = options.labels;
  if (labels !== undefined && labels.length !== rows)
    return fail('EDGELOOP_ERR_CONFIG_INVALID', `reference labels: ${labels.length} for ${rows} rows`);
  const features = columns.map((c) => featureReference(c, bins, sampleSize));
  const classes =
    labels === undefined
      ? undefined
      : buildClassProfiles(
          columns.map((c, j) => ({ ...c, binEdges: (features[j] as FeatureReference).binEdges })),
          labels,
          classSample,
        );
  const profile = {
    schemaVersion: 1 as const,
    rows,
    features,
    chunkScores: [...psiChunkScores(columns, features, chunkRows), ...extraChunkScores],
    ...(classes === undefined ? {} : { classes }),
  };
  return parseReferenceProfile(profile);
}

/** Validates a reference profile given as bytes (reference.json) or a parsed value. */
export function parseReferenceProfile(input: unknown): Result<ReferenceProfile> {
  let value: unknown = input;
  if (input instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(input));
    } catch {
      return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', 'reference profile is not UTF-8 JSON');
    }
  }
  const r = referenceProfileSchema.safeParse(value);
  if (!r.success)
    return fail(
      'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
      `reference profile invalid: ${formatIssues(r.error)}`,
    );
  return ok(r.data);
}

/** reference.json bytes (canonical JSON, so the same data gives the same file digest). */
export function encodeReferenceProfile(profile: ReferenceProfile): Uint8Array {
  return canonicalJsonBytes(profile);
}

/** The manifest's `reference` summary for a profile stored at `path`. */
export function summarizeReference(
  profile: ReferenceProfile,
  path: string = REFERENCE_FILE,
): ReferenceSummary {
  const bins = Math.max(1, ...profile.features.map((f) => f.counts.length));
  return {
    path,
    rows: profile.rows,
    features: profile.features.map((f) => f.name),
    bins,
    chunkMethods: [...new Set(profile.chunkScores.map((c) => c.method))].sort(),
  };
}

/** The labels that have a class-conditional profile (none for a profile built without labels). */
export function classLabels(profile: ReferenceProfile): readonly string[] {
  return (profile.classes ?? []).map((c) => c.label);
}

const classCache = new WeakMap<ReferenceProfile, Map<string, ReadonlyMap<string, ClassFeatureReference>>>();

/**
 * The class-conditional reference of `label`, by feature name, each with the pooled feature's bin edges
 * its counts are on; undefined when the profile has no classes or none for that label.
 */
export function classReference(
  profile: ReferenceProfile,
  label: string,
): ReadonlyMap<string, ClassFeatureReference> | undefined {
  // Built once per profile and label: a drift monitor asks per window, and a profile is not mutated.
  let byLabel = classCache.get(profile);
  if (byLabel === undefined) {
    byLabel = new Map<string, ReadonlyMap<string, ClassFeatureReference>>();
    classCache.set(profile, byLabel);
  }
  const cached = byLabel.get(label);
  if (cached !== undefined) return cached;
  const c = profile.classes?.find((x) => x.label === label);
  if (c === undefined) return undefined;
  const out = new Map<string, ClassFeatureReference>();
  c.features.forEach((f, j) => {
    out.set(f.name, { ...f, binEdges: profile.features[j]?.binEdges ?? [] });
  });
  byLabel.set(label, out);
  return out;
}
