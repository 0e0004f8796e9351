// Class-conditional reference profiles (docs/model-bundle.md, "reference.json", `classes`): per label, the
// training rows of that class and a compact profile per feature. Pooled over all machine states, a machine
// that moves into `imbalance` looks like drift; compared against the profile of the class the model
// predicts, it does not. Class bin counts are on the POOLED feature's bin edges, so a class PSI is on the
// same bins as the pooled one (the edges are not repeated in the file; classReference() attaches them).

import { z } from 'zod';
import { binCounts, orderSample, valueStats } from './reference-stats.ts';

/** Sorted order statistics per class and feature, by default (compact: 5 classes x 192 features). */
export const DEFAULT_CLASS_SAMPLE = 500;
export const MAX_CLASS_SAMPLE = 2000;

export const classFeatureProfileSchema = z
  .strictObject({
    name: z.string().min(1),
    count: z.number().int().nonnegative(),
    nonFinite: z.number().int().nonnegative(),
    /** This class's values per bin of the pooled feature's binEdges (same rule, binIndex). */
    counts: z.array(z.number().int().nonnegative()),
    mean: z.number(),
    std: z.number().nonnegative(),
    mad: z.number().nonnegative(),
    min: z.number(),
    max: z.number(),
    /** Over this class's rows in time order (per device, consecutive windows). */
    lag1Autocorr: z.number(),
    sample: z.array(z.number()).max(MAX_CLASS_SAMPLE),
  })
  .superRefine((f, ctx) => {
    if (f.sample.some((x, i) => i > 0 && (f.sample[i - 1] as number) > x))
      ctx.addIssue({ code: 'custom', message: `${f.name}: sample must be sorted` });
  });
export type ClassFeatureProfile = z.infer<typeof classFeatureProfileSchema>;

export const classProfileSchema = z.strictObject({
  /** A label of the manifest's `labels`. */
  label: z.string().min(1),
  /** Reference rows of this class. */
  rows: z.number().int().nonnegative(),
  /** In the pooled `features` order, one per pooled feature. */
  features: z.array(classFeatureProfileSchema),
});
export type ClassProfile = z.infer<typeof classProfileSchema>;

/** A class's feature profile with the pooled feature's bin edges its `counts` are on. */
/**
 * A class sample point rounded to 7 significant digits: float32 resolution, which is what the model is
 * fed, and about half the JSON bytes of a full double (5 classes x 192 features add ~1.6 MB, not ~3 MB).
 * Rounding is monotone, so the sample stays sorted.
 */
export const float32Digits = (x: number): number => Number(x.toPrecision(7));

export interface ClassFeatureReference extends ClassFeatureProfile {
  readonly binEdges: readonly number[];
}

export interface ClassColumn {
  readonly name: string;
  readonly values: ArrayLike<number>;
  /** The pooled feature's bin edges. */
  readonly binEdges: readonly number[];
}

/** One profile per distinct label (sorted), from columns whose rows carry `labels` (same length). */
export function buildClassProfiles(
  columns: readonly ClassColumn[],
  labels: readonly string[],
  sampleSize: number,
): ClassProfile[] {
  const rowsOf = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const rows = rowsOf.get(label);
    if (rows === undefined) rowsOf.set(label, [i]);
    else rows.push(i);
  });
  return [...rowsOf.keys()].sort().map((label) => {
    const rows = rowsOf.get(label) as number[];
    const features = columns.map((col): ClassFeatureProfile => {
      const s = valueStats(Float64Array.from(rows, (i) => col.values[i] as number));
      const { sorted, ...stats } = s;
      return {
        name: col.name,
        ...stats,
        counts: binCounts(sorted, col.binEdges),
        sample: orderSample(sorted, sampleSize).map(float32Digits),
      };
    });
    return { label, rows: rows.length, features };
  });
}

/** Consistency of class profiles with the pooled features: messages of what is wrong, empty when fine. */
export function classProfileProblems(
  classes: readonly ClassProfile[],
  pooled: readonly { readonly name: string; readonly counts: readonly number[] }[],
  rows: number,
): string[] {
  const out: string[] = [];
  if (new Set(classes.map((c) => c.label)).size !== classes.length) out.push('classes: duplicate label');
  const total = classes.reduce((a, c) => a + c.rows, 0);
  if (classes.length > 0 && total !== rows) out.push(`classes: rows add up to ${total}, not ${rows}`);
  for (const c of classes) {
    if (c.features.length !== pooled.length || c.features.some((f, j) => f.name !== pooled[j]?.name))
      out.push(`classes[${c.label}]: features must be the pooled features, in order`);
    else if (c.features.some((f, j) => f.counts.length !== pooled[j]?.counts.length))
      out.push(`classes[${c.label}]: counts must be on the pooled feature's bins`);
  }
  return out;
}
