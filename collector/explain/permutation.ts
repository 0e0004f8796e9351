// Global explanations (docs/explanations.md, "Test reports"): permutation importance on the test
// partition, per feature and per sensor group, as the drop in macro-F1 when a column (or all of a group's
// columns, shuffled by the same row order so the group's own correlations stay) is shuffled. Seeded, with
// the spread over repeats. The model is a black box behind a BatchPredictor.

import { Prng, deriveSeed } from '../../shared/random.ts';
import { ok, type Result } from '../../shared/errors.ts';
import { classificationMetrics } from '../training/metrics.ts';
import type { FeatureGroup } from './groups.ts';
import { argmaxAt, type BatchPredictor } from './predictor.ts';

export interface Importance {
  readonly name: string;
  /** Mean drop in macro-F1 over the repeats (negative when shuffling helped, i.e. noise). */
  readonly mean: number;
  /** Population standard deviation of the drops. */
  readonly std: number;
  readonly drops: readonly number[];
}

export interface PermutationImportance {
  readonly metric: 'macroF1';
  readonly baseline: number;
  readonly repeats: number;
  readonly seed: number;
  readonly rows: number;
  /** Largest mean drop first. */
  readonly groups: readonly Importance[];
  readonly features: readonly Importance[];
}

export interface PermutationInput {
  readonly predictor: BatchPredictor;
  /** Row-major test features, `rows * predictor.width`. */
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly labels: readonly string[];
  readonly featureNames: readonly string[];
  readonly groups: readonly FeatureGroup[];
  /** Default 5. */
  readonly repeats?: number;
  readonly seed: number;
  /** Called after each feature or group, for progress. */
  readonly onProgress?: (done: number, total: number) => void;
}

function permutation(n: number, prng: Prng): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(0, i);
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

const summarize = (name: string, drops: number[]): Importance => {
  const mean = drops.reduce((s, d) => s + d, 0) / drops.length;
  const std = Math.sqrt(drops.reduce((s, d) => s + (d - mean) ** 2, 0) / drops.length);
  return { name, mean, std, drops };
};

/** Permutation importance of every group and every feature. Cost: (G + F) * repeats batches of the test set. */
export async function permutationImportance(input: PermutationInput): Promise<Result<PermutationImportance>> {
  const { predictor, y, labels } = input;
  const f = predictor.width;
  const c = predictor.classes;
  const n = y.length;
  const repeats = input.repeats ?? 5;
  const x = Float32Array.from(input.x);
  const predicted = new Int32Array(n);
  const score = async (): Promise<Result<number>> => {
    const p = await predictor.predict(x, n);
    if (!p.ok) return p;
    for (let i = 0; i < n; i++) predicted[i] = argmaxAt(p.value, i * c, c);
    return ok(classificationMetrics(y, predicted, labels).macroF1);
  };
  const base = await score();
  if (!base.ok) return base;
  const total = input.groups.length + f;
  let done = 0;
  const saved = new Float32Array(n);
  const measure = async (name: string, columns: readonly number[]): Promise<Result<Importance>> => {
    const drops: number[] = [];
    const prng = new Prng(deriveSeed(input.seed, 'permutation', name));
    for (let r = 0; r < repeats; r++) {
      const perm = permutation(n, prng);
      const originals = columns.map((j) => {
        for (let i = 0; i < n; i++) saved[i] = x[i * f + j] as number;
        const copy = Float32Array.from(saved);
        for (let i = 0; i < n; i++) x[i * f + j] = copy[perm[i] as number] as number;
        return copy;
      });
      const s = await score();
      columns.forEach((j, q) => {
        const copy = originals[q] as Float32Array;
        for (let i = 0; i < n; i++) x[i * f + j] = copy[i] as number;
      });
      if (!s.ok) return s;
      drops.push(base.value - s.value);
    }
    done++;
    input.onProgress?.(done, total);
    return ok(summarize(name, drops));
  };
  const groups: Importance[] = [];
  for (const g of input.groups) {
    const m = await measure(g.name, g.indices);
    if (!m.ok) return m;
    groups.push(m.value);
  }
  const features: Importance[] = [];
  for (let j = 0; j < f; j++) {
    const m = await measure(input.featureNames[j] ?? String(j), [j]);
    if (!m.ok) return m;
    features.push(m.value);
  }
  const byDrop = (a: Importance, b: Importance): number => b.mean - a.mean;
  return ok({
    metric: 'macroF1',
    baseline: base.value,
    repeats,
    seed: input.seed,
    rows: n,
    groups: groups.sort(byDrop),
    features: features.sort(byDrop),
  });
}
