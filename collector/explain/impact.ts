// Which drift matters to the model (docs/explanations.md, "Drift impact"). A drift alert says how far
// features moved; its impact says whether the model cares. Each reference row's drifted features are
// carried to where the live data sits at the same quantile (x -> F_live^-1(F_ref(x)), the quantile map
// from the reference's distribution to the live one), the rest of the row is kept, and the model is run on
// both. Impact is the share of rows whose predicted class changes; the change in the prediction mix is
// reported beside it. A shift of a feature the model ignores changes nothing, however far it moved.

import { ok, type Result } from '../../shared/errors.ts';
import { quantileOfValue, valueAtQuantile } from './baseline.ts';
import { argmaxAt, type BatchPredictor } from './predictor.ts';

export interface FeatureShift {
  /** Position in the model's input. */
  readonly index: number;
  readonly feature: string;
  /** The feature's reference values, sorted (the profile's sample). */
  readonly reference: readonly number[];
  /** The live values, sorted. */
  readonly live: readonly number[];
}

export type ImpactPriority = 'high' | 'medium' | 'low';

export interface ImpactThresholds {
  /** Share of changed predictions from which an alert is high priority. Default 0.2. */
  readonly high: number;
  /** ... and below which it is low priority. Default 0.05. */
  readonly low: number;
}

export const DEFAULT_IMPACT_THRESHOLDS: ImpactThresholds = { high: 0.2, low: 0.05 };

export interface DriftImpact {
  /** Share of reference rows whose predicted class changes under the shift. */
  readonly changedShare: number;
  /** Prediction mix (share per label) before and after, in label order. */
  readonly mixBefore: readonly number[];
  readonly mixAfter: readonly number[];
  /** Total variation distance between the two mixes: half the sum of |after - before|. */
  readonly mixShift: number;
  /** Mean change of the predicted-before class's probability (negative: the model grows less sure). */
  readonly meanConfidenceChange: number;
  readonly priority: ImpactPriority;
  readonly rows: number;
  /** Per shifted feature: the share of changed predictions when it alone is shifted. */
  readonly features: readonly { readonly feature: string; readonly changedShare: number }[];
}

export interface ImpactInput {
  readonly predictor: BatchPredictor;
  /** Reference rows, row-major, `rows * predictor.width`. */
  readonly rows: Float32Array;
  readonly shifts: readonly FeatureShift[];
  readonly thresholds?: ImpactThresholds;
}

export function priorityOf(
  changedShare: number,
  t: ImpactThresholds = DEFAULT_IMPACT_THRESHOLDS,
): ImpactPriority {
  return changedShare >= t.high ? 'high' : changedShare >= t.low ? 'medium' : 'low';
}

function shiftRows(base: Float32Array, width: number, shifts: readonly FeatureShift[]): Float32Array {
  const out = Float32Array.from(base);
  const n = base.length / width;
  for (const s of shifts) {
    if (s.reference.length === 0 || s.live.length === 0) continue;
    for (let i = 0; i < n; i++) {
      const at = i * width + s.index;
      out[at] = valueAtQuantile(s.live, quantileOfValue(s.reference, out[at] as number));
    }
  }
  return out;
}

function labelsOf(p: Float32Array, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => argmaxAt(p, i * c, c));
}

const mix = (labels: Int32Array, c: number): number[] => {
  const m = new Array<number>(c).fill(0);
  for (const k of labels) m[k] = (m[k] as number) + 1 / labels.length;
  return m;
};

/** The impact of all shifts together, and of each shifted feature alone. */
export async function driftImpact(input: ImpactInput): Promise<Result<DriftImpact>> {
  const { predictor, rows } = input;
  const w = predictor.width;
  const c = predictor.classes;
  const n = rows.length / w;
  const before = await predictor.predict(rows, n);
  if (!before.ok) return before;
  const labelsBefore = labelsOf(before.value, n, c);
  const changed = async (shifts: readonly FeatureShift[]) => {
    const after = await predictor.predict(shiftRows(rows, w, shifts), n);
    if (!after.ok) return after;
    const labelsAfter = labelsOf(after.value, n, c);
    let moved = 0;
    let conf = 0;
    for (let i = 0; i < n; i++) {
      if (labelsAfter[i] !== labelsBefore[i]) moved++;
      const k = labelsBefore[i] as number;
      conf += (after.value[i * c + k] as number) - (before.value[i * c + k] as number);
    }
    return ok({ share: n === 0 ? 0 : moved / n, labelsAfter, conf: n === 0 ? 0 : conf / n });
  };
  const all = await changed(input.shifts);
  if (!all.ok) return all;
  const features: { feature: string; changedShare: number }[] = [];
  if (input.shifts.length > 1) {
    for (const s of input.shifts) {
      const one = await changed([s]);
      if (!one.ok) return one;
      features.push({ feature: s.feature, changedShare: one.value.share });
    }
    features.sort((a, b) => b.changedShare - a.changedShare);
  } else if (input.shifts[0] !== undefined) {
    features.push({ feature: input.shifts[0].feature, changedShare: all.value.share });
  }
  const mixBefore = mix(labelsBefore, c);
  const mixAfter = mix(all.value.labelsAfter, c);
  const mixShift = mixBefore.reduce((s, b, k) => s + Math.abs((mixAfter[k] as number) - b), 0) / 2;
  return ok({
    changedShare: all.value.share,
    mixBefore,
    mixAfter,
    mixShift,
    meanConfidenceChange: all.value.conf,
    priority: priorityOf(all.value.share, input.thresholds),
    rows: n,
    features,
  });
}
