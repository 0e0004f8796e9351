// Local explanations (docs/explanations.md, "One window"): exact Shapley values per sensor group, and the
// top single features of the most important group by occlusion. A group that is "absent" from a coalition
// takes the baseline row's values (the reference medians), so with G groups the explanation is one batch
// of 2^G rows. The contributions sum to f(window) - f(baseline) for every class, exactly up to float64
// rounding: the Shapley weights are the efficiency identity, not an approximation.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { MAX_GROUPS, type FeatureGroup } from './groups.ts';
import { argmaxAt, type BatchPredictor } from './predictor.ts';

export interface GroupContribution {
  readonly group: string;
  /** Shapley value on the predicted class's probability. */
  readonly contribution: number;
  /** Shapley value on every class's probability, in label order. */
  readonly byClass: readonly number[];
}

export interface FeatureOcclusion {
  readonly feature: string;
  /** Predicted-class probability of the window minus that with this feature set to its baseline. */
  readonly effect: number;
  readonly value: number;
  readonly baseline: number;
  /** (value - baseline) in reference scales (1.4826 MAD, else std); null without scales. */
  readonly deviation: number | null;
}

export interface WindowExplanation {
  readonly labels: readonly string[];
  readonly predicted: string;
  readonly predictedIndex: number;
  /** Probabilities of the window, and of the baseline row, in label order. */
  readonly probabilities: readonly number[];
  readonly baselineProbabilities: readonly number[];
  /** Predicted-class probability minus its baseline value: what the contributions add up to. */
  readonly delta: number;
  readonly groups: readonly GroupContribution[];
  /** The group with the largest |contribution|. */
  readonly topGroup: string;
  /** Its features by |effect|, largest first, at most `topFeatures`. */
  readonly topFeatures: readonly FeatureOcclusion[];
  /** Model rows run: 2^G coalitions plus one per occluded feature. */
  readonly inferences: number;
}

function factorials(n: number): number[] {
  const f = [1];
  for (let i = 1; i <= n; i++) f.push((f[i - 1] as number) * i);
  return f;
}

const bitCount = (m: number): number => {
  let c = 0;
  for (let x = m; x > 0; x &= x - 1) c++;
  return c;
};

/**
 * Exact Shapley values of the groups over coalition values v[mask * classes + k] (mask bit g = group g
 * present). Returns phi[g * classes + k].
 */
export function shapleyFromCoalitions(v: ArrayLike<number>, groups: number, classes: number): Float64Array {
  const fact = factorials(groups);
  const phi = new Float64Array(groups * classes);
  const full = 1 << groups;
  for (let g = 0; g < groups; g++) {
    const bit = 1 << g;
    for (let s = 0; s < full; s++) {
      if ((s & bit) !== 0) continue;
      const size = bitCount(s);
      const w = ((fact[size] as number) * (fact[groups - size - 1] as number)) / (fact[groups] as number);
      for (let k = 0; k < classes; k++) {
        const i = g * classes + k;
        phi[i] =
          (phi[i] as number) + w * ((v[(s | bit) * classes + k] as number) - (v[s * classes + k] as number));
      }
    }
  }
  return phi;
}

export interface ExplainWindowInput {
  readonly predictor: BatchPredictor;
  readonly labels: readonly string[];
  readonly featureNames: readonly string[];
  readonly groups: readonly FeatureGroup[];
  /** The window's feature vector, in input order. NaN (an imputed feature) is replaced by the baseline. */
  readonly features: Float32Array;
  readonly baseline: Float32Array;
  /** Each feature's reference scale, for the deviation shown beside an occlusion effect. */
  readonly scales?: Float32Array;
  /** Default 5; 0 skips the occlusion batch (contributions only). */
  readonly topFeatures?: number;
}

function deviationOf(value: number, baseline: number, scale: number | undefined): number | null {
  if (scale === undefined || !(scale > 0)) return null;
  return (value - baseline) / scale;
}

/** One window's explanation: 2^G coalition rows in one batch, then one occlusion batch for the top group. */
export async function explainWindow(input: ExplainWindowInput): Promise<Result<WindowExplanation>> {
  const { predictor, groups, baseline } = input;
  const width = predictor.width;
  const c = predictor.classes;
  const g = groups.length;
  if (input.features.length !== width || baseline.length !== width || input.featureNames.length !== width)
    return fail(
      'EDGELOOP_ERR_EXPLAIN_INPUT',
      `the window has ${input.features.length} features, the model takes ${width}`,
    );
  if (g === 0 || g > MAX_GROUPS)
    return fail(
      'EDGELOOP_ERR_EXPLAIN_INPUT',
      `${g} sensor groups; an exact explanation takes 1 to ${MAX_GROUPS}`,
    );
  const x = Float32Array.from(input.features, (v, i) => (Number.isFinite(v) ? v : (baseline[i] as number)));
  const full = 1 << g;
  const rows = new Float32Array(full * width);
  for (let s = 0; s < full; s++) {
    const row = rows.subarray(s * width, (s + 1) * width);
    row.set(baseline);
    for (let j = 0; j < g; j++) {
      if ((s & (1 << j)) === 0) continue;
      for (const i of (groups[j] as FeatureGroup).indices) row[i] = x[i] as number;
    }
  }
  const v = await predictor.predict(rows, full);
  if (!v.ok) return v;
  const values = Float64Array.from(v.value);
  const phi = shapleyFromCoalitions(values, g, c);
  const top = (full - 1) * c;
  const k = argmaxAt(values, top, c);
  const contributions = groups.map((grp, j) => ({
    group: grp.name,
    contribution: phi[j * c + k] as number,
    byClass: Array.from(phi.subarray(j * c, (j + 1) * c)),
  }));
  let topIndex = 0;
  contributions.forEach((x2, j) => {
    if (Math.abs(x2.contribution) > Math.abs((contributions[topIndex] as GroupContribution).contribution))
      topIndex = j;
  });
  const topGroup = groups[topIndex] as FeatureGroup;
  const topCount = input.topFeatures ?? 5;
  let occlusions: FeatureOcclusion[] = [];
  if (topCount > 0) {
    // Occlusion: the window with one feature of the top group at its baseline, one row per feature.
    const occ = new Float32Array(topGroup.indices.length * width);
    topGroup.indices.forEach((fi, r) => {
      occ.set(x, r * width);
      occ[r * width + fi] = baseline[fi] as number;
    });
    const o = await predictor.predict(occ, topGroup.indices.length);
    if (!o.ok) return o;
    const pk = values[top + k] as number;
    occlusions = topGroup.indices.map((fi, r) => ({
      feature: input.featureNames[fi] as string,
      effect: pk - (o.value[r * c + k] as number),
      value: x[fi] as number,
      baseline: baseline[fi] as number,
      deviation: deviationOf(x[fi] as number, baseline[fi] as number, input.scales?.[fi]),
    }));
    // A saturated model can give many features no single effect; among equal effects, the most unusual first.
    occlusions.sort(
      (a, b) =>
        Math.abs(b.effect) - Math.abs(a.effect) || Math.abs(b.deviation ?? 0) - Math.abs(a.deviation ?? 0),
    );
  }
  return ok({
    labels: input.labels,
    predicted: input.labels[k] ?? String(k),
    predictedIndex: k,
    probabilities: Array.from(values.subarray(top, top + c)),
    baselineProbabilities: Array.from(values.subarray(0, c)),
    delta: (values[top + k] as number) - (values[k] as number),
    groups: contributions,
    topGroup: topGroup.name,
    topFeatures: occlusions.slice(0, topCount),
    inferences: full + (topCount > 0 ? topGroup.indices.length : 0),
  });
}
