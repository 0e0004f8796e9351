// One device's columns judged against one basis (docs/monitors.md, "Methods"): every monitored feature of
// the ring against the device baseline's prepared reference, or against the model's reference profile:
// class-conditionally (windows the model predicted as c with top probability >= confidentProbability,
// against class c's profile) when the profile has classes, else against the pooled profile. Each column
// goes through the offline path's evaluateColumn (W1, PSI, KS on n_eff, CUSUM; 2 of 4 votes), with the
// feature's physical floor folded into floorScale. Suppressed channels are not judged at all.

import { evaluateColumn } from '../evaluate.ts';
import { currentFromColumn } from '../reference.ts';
import { ar1MeanInflation } from '../stats.ts';
import type { ColumnResult, DriftCurrent, DriftOptions, DriftReference, Verdict } from '../types.ts';
import type { MonitoredFeature } from './features.ts';
import type { PreparedModel } from './model-refs.ts';
import type { LabelTable } from './mix.ts';
import type { WindowRing } from './ring.ts';
import type { Basis, GroupStatus } from './types.ts';

export interface ColumnJudgement {
  readonly verdict: Verdict | 'suppressed';
  readonly result: ColumnResult | null;
  /** The mean shift in standard errors (AR(1)-aware), and the gate it had to pass; null if not judged. */
  readonly meanZ: number | null;
  /** The class whose reference decided (class-conditional), or null for the pooled / baseline one. */
  readonly label: string | null;
}

export interface BasisJudgement {
  readonly basis: Basis;
  /** One per monitored feature, in the monitor's feature order. */
  readonly columns: readonly ColumnJudgement[];
  readonly groups: ReadonlyMap<string, GroupStatus>;
  readonly classConditional: boolean;
}

/** Per-reference options: the σ floor raised to the feature's physical floor (cached per reference). */
export class FloorOptions {
  private readonly cache = new WeakMap<DriftReference, DriftOptions>();
  constructor(private readonly base: DriftOptions) {}
  for(ref: DriftReference, feature: MonitoredFeature): DriftOptions {
    let o = this.cache.get(ref);
    if (o === undefined) {
      const phys = feature.physicalFloor;
      o =
        phys !== null && ref.scale > 0 && phys / ref.scale > this.base.floorScale
          ? { ...this.base, floorScale: phys / ref.scale }
          : this.base;
      this.cache.set(ref, o);
    }
    return o;
  }
}

const SUPPRESSED: ColumnJudgement = { verdict: 'suppressed', result: null, label: null, meanZ: null };
const NO_REFERENCE: ColumnJudgement = {
  verdict: 'insufficient_data',
  result: null,
  label: null,
  meanZ: null,
};

/**
 * The mean shift in standard errors of a difference of two AR(1) means: current (m rows) and reference
 * (N rows), both with the larger of the two lag-1 autocorrelations (stats.ts ar1MeanInflation).
 */
export function meanShiftZ(r: ColumnResult): number {
  const rho = Math.max(0, r.lag1, r.reference.lag1);
  const v = ar1MeanInflation(r.n, rho) / r.n + ar1MeanInflation(r.reference.n, rho) / r.reference.n;
  // meanShiftScales is in reference scales (std, or 1.4826·MAD ≈ σ): close enough to σ units here.
  return Math.abs(r.meanShiftScales) / Math.sqrt(v);
}

/**
 * The methods' verdict, gated: a live window is judged many times an hour on every monitored column of
 * every device, and a short baseline's own error is shared by all of its evaluations, so a drift verdict
 * also needs the mean shift to be at least `zGate` standard errors (docs/monitors.md, "False alarms").
 */
export function gated(result: ColumnResult, label: string | null, zGate: number): ColumnJudgement {
  const z = meanShiftZ(result);
  const verdict = result.verdict === 'drift' && !(z >= zGate) ? 'ok' : result.verdict;
  return { verdict, result, label, meanZ: Number.isFinite(z) ? z : null };
}

/** A group's status from its columns: drift if any drifts, ok if any could judge, else why not. */
export function groupStatuses(features: readonly MonitoredFeature[], columns: readonly ColumnJudgement[]) {
  const out = new Map<string, GroupStatus>();
  const rank: Record<string, number> = { suppressed: 0, insufficient_data: 1, ok: 2, drift: 3 };
  features.forEach((f, i) => {
    const v = (columns[i] as ColumnJudgement).verdict;
    const prev = out.get(f.group);
    if (prev === undefined || (rank[v] as number) > (rank[prev] as number)) out.set(f.group, v);
  });
  return out;
}

export interface JudgeInput {
  readonly features: readonly MonitoredFeature[];
  readonly zGate: number;
  /** Current columns (null where suppressed), one per feature. */
  readonly currents: readonly (DriftCurrent | null)[];
  readonly floors: FloorOptions;
}

/** Judges the ring's columns against the device's frozen baseline references. */
export function judgeBaseline(input: JudgeInput, refs: readonly DriftReference[]): BasisJudgement {
  const columns = input.features.map((f, i): ColumnJudgement => {
    const cur = input.currents[i];
    const ref = refs[i];
    if (cur === null || cur === undefined) return SUPPRESSED;
    if (ref === undefined) return NO_REFERENCE;
    return gated(evaluateColumn(ref, cur, input.floors.for(ref, f)), null, input.zGate);
  });
  return {
    basis: 'device_baseline',
    columns,
    groups: groupStatuses(input.features, columns),
    classConditional: false,
  };
}

/** Slots of confidently predicted windows, per label index. */
export function confidentSlots(ring: WindowRing, minConfidence: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let i = 0; i < ring.size; i++) {
    const s = ring.slot(i);
    const l = ring.label[s] as number;
    if (l < 0 || !((ring.confidence[s] as number) >= minConfidence)) continue;
    let a = out.get(l);
    if (a === undefined) out.set(l, (a = []));
    a.push(s);
  }
  return out;
}

function combineClasses(parts: readonly ColumnJudgement[]): ColumnJudgement {
  return (
    parts.find((p) => p.verdict === 'drift') ??
    parts.find((p) => p.verdict === 'ok') ??
    parts[0] ??
    NO_REFERENCE
  );
}

/**
 * Judges against the model's reference: class-conditionally when the profile has classes (classes with
 * fewer than minSamples confident windows are not judged), else against the pooled profile.
 */
export function judgeModel(
  input: JudgeInput,
  model: PreparedModel,
  ring: WindowRing,
  labels: LabelTable,
  minConfidence: number,
  minSamples: number,
  scratch: Float64Array,
): BasisJudgement {
  const byClass = model.hasClasses() ? confidentSlots(ring, minConfidence) : null;
  const columns = input.features.map((f, i): ColumnJudgement => {
    const cur = input.currents[i];
    if (cur === null || cur === undefined) return SUPPRESSED;
    if (byClass === null) {
      const ref = model.feature(f.name);
      if (ref === null) return NO_REFERENCE;
      return gated(evaluateColumn(ref, cur, input.floors.for(ref, f)), null, input.zGate);
    }
    const parts: ColumnJudgement[] = [];
    for (const [l, slots] of byClass) {
      if (slots.length < minSamples) continue;
      const label = labels.names[l] ?? '';
      const ref = model.classFeature(label, f.name);
      if (ref === null) continue;
      const base = i * ring.capacity;
      for (let k = 0; k < slots.length; k++) scratch[k] = ring.values[base + (slots[k] as number)] as number;
      const sub = currentFromColumn(f.name, scratch.subarray(0, slots.length));
      parts.push(gated(evaluateColumn(ref, sub, input.floors.for(ref, f)), label, input.zGate));
    }
    return combineClasses(parts);
  });
  return {
    basis: 'model_reference',
    columns,
    groups: groupStatuses(input.features, columns),
    classConditional: byClass !== null,
  };
}
