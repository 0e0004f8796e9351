// One device's columns judged against one basis (docs/monitors.md, "Methods"): every monitored feature of
// the ring against the device baseline's prepared reference, or against the model's reference profile:
// class-conditionally (windows the model predicted as c with top probability >= confidentProbability,
// against class c's profile) when the profile has classes, else against the pooled profile. Each column
// goes through the offline path's evaluateColumn (W1, PSI, KS on n_eff, CUSUM; 2 of 4 votes), with the
// feature's physical floor folded into floorScale. Suppressed channels are not judged at all.

import { evaluateColumn } from '../evaluate.ts';
import { ar1MeanInflation, effectiveN, lag1Autocorr } from '../stats.ts';
import type { ColumnResult, DriftCurrent, DriftOptions, DriftReference, Verdict } from '../types.ts';
import type { MonitoredFeature } from './features.ts';
import type { PreparedModel } from './model-refs.ts';
import type { LabelTable } from './mix.ts';
import type { WindowRing } from './ring.ts';
import type { Basis, GroupStatus } from './types.ts';

export interface ColumnJudgement {
  readonly verdict: Verdict | 'suppressed';
  /** The methods' result; null when the column was screened out (below), suppressed or not judged. */
  readonly result: ColumnResult | null;
  /** The class whose reference decided (class-conditional), or null for the pooled / baseline one. */
  readonly label: string | null;
  /** Current mean minus reference mean, in reference scales (σ); null when not judged. */
  readonly shiftSigma: number | null;
  /** The mean shift in AR(1) standard errors; null when not judged. */
  readonly meanZ: number | null;
}

export interface BasisJudgement {
  readonly basis: Basis;
  /** One per monitored feature, in the monitor's feature order. */
  readonly columns: readonly ColumnJudgement[];
  readonly groups: ReadonlyMap<string, GroupStatus>;
  readonly classConditional: boolean;
}

const SUPPRESSED: ColumnJudgement = {
  verdict: 'suppressed',
  result: null,
  label: null,
  shiftSigma: null,
  meanZ: null,
};
const NO_REFERENCE: ColumnJudgement = {
  verdict: 'insufficient_data',
  result: null,
  label: null,
  shiftSigma: null,
  meanZ: null,
};

/** One current column: finite values in time order, their mean and lag-1 autocorrelation; sorted on demand. */
export class LiveColumn {
  readonly mean: number;
  readonly lag1: number;
  private current: DriftCurrent | null = null;
  constructor(
    readonly name: string,
    readonly series: Float64Array,
    readonly nonFinite: number,
  ) {
    let sum = 0;
    for (let i = 0; i < series.length; i++) sum += series[i] as number;
    this.mean = series.length > 0 ? sum / series.length : Number.NaN;
    this.lag1 = lag1Autocorr(series);
  }

  /** Finite values of `values` (NaN dropped), copied into `into` (reused) or a new array. */
  static of(name: string, values: ArrayLike<number>, into?: Float64Array): LiveColumn {
    const out = into !== undefined && into.length >= values.length ? into : new Float64Array(values.length);
    let k = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) out[k++] = v;
    }
    return new LiveColumn(name, out.subarray(0, k), values.length - k);
  }

  /** Feature f of a ring, oldest first, finite values only, into `into` (reused): one pass over the ring. */
  static fromRing(name: string, ring: WindowRing, f: number, into: Float64Array): LiveColumn {
    const base = f * ring.capacity;
    const start = ring.slot(0);
    let k = 0;
    for (let i = 0, s = start; i < ring.size; i++, s = s + 1 === ring.capacity ? 0 : s + 1) {
      const v = ring.values[base + s] as number;
      if (Number.isFinite(v)) into[k++] = v; // float32: a huge JSON number becomes Infinity here
    }
    return new LiveColumn(name, into.subarray(0, k), ring.size - k);
  }

  /** The offline path's current column (sorted once, only for columns the methods must judge). */
  drift(): DriftCurrent {
    this.current ??= {
      name: this.name,
      series: this.series,
      sorted: Float64Array.from(this.series).sort(),
      nonFinite: this.nonFinite,
      lag1: this.lag1,
      nEff: effectiveN(this.series.length, this.lag1),
    };
    return this.current;
  }
}

/**
 * The mean shift in standard errors of a difference of two AR(1) means: current (n rows) and reference
 * (N rows), both with the larger of the two lag-1 autocorrelations (stats.ts ar1MeanInflation). The shift
 * is in reference scales (std, or 1.4826·MAD ≈ σ).
 */
export function meanShiftZ(
  shiftScales: number,
  n: number,
  lag1: number,
  nRef: number,
  refLag1: number,
): number {
  // The lag-1 estimate is biased low by about (1 + 4ρ)/n (Kendall 1954); near ρ = 0.9 that bias alone
  // shrinks the standard error by a tenth, so both estimates are corrected before the larger is used.
  const corrected = (r: number, len: number): number => r + (1 + 4 * Math.max(0, r)) / Math.max(1, len);
  const rho = Math.min(0.99, Math.max(0, corrected(lag1, n), corrected(refLag1, nRef)));
  const v = ar1MeanInflation(n, rho) / n + ar1MeanInflation(nRef, rho) / nRef;
  return Math.abs(shiftScales) / Math.sqrt(v);
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * One column against one reference (docs/monitors.md, "Methods" and "False alarms"). A live window is
 * judged many times an hour on every monitored column of every device, and a short baseline's own error
 * is shared by all of its evaluations, so a drift verdict needs the mean shift to be at least `zGate`
 * AR(1) standard errors on top of the methods' 2-of-4 vote. The gate is checked first: a column that
 * cannot pass it is `ok` without running the methods (screened; that is what makes a cycle over 1,000
 * devices cheap). A feature with a physical floor (environment channels: level sensors whose lag-1
 * autocorrelation near 1 leaves an n_eff of 1-4 per window) is judged by its level: drift when the mean
 * moved by at least the floor, in its unit, and by zGate standard errors.
 */
export function judgeColumn(
  ref: DriftReference,
  col: LiveColumn,
  feature: MonitoredFeature,
  method: DriftOptions,
  zGate: number,
  label: string | null,
): ColumnJudgement {
  const n = col.series.length;
  const shift = ref.scale > 0 ? (col.mean - ref.mean) / ref.scale : Number.NaN;
  const z = n > 0 && ref.n > 0 ? meanShiftZ(shift, n, col.lag1, ref.n, ref.lag1) : Number.NaN;
  const base = { label, shiftSigma: finite(shift), meanZ: finite(z) };
  const floor = feature.physicalFloor;
  if (floor !== null && Number.isFinite(shift) && n >= method.minSamples) {
    const moved = Math.abs(shift * ref.scale) >= floor && z >= zGate;
    return moved
      ? { ...base, verdict: 'drift', result: evaluateColumn(ref, col.drift(), method) }
      : { ...base, verdict: 'ok', result: null };
  }
  const tooFew =
    n < method.minSamples ||
    effectiveN(n, col.lag1) < method.minEffectiveSamples ||
    ref.n < method.minSamples ||
    !(ref.scale > 0);
  if (tooFew) return { ...base, verdict: 'insufficient_data', result: null };
  if (!(z >= zGate)) return { ...base, verdict: 'ok', result: null };
  const result = evaluateColumn(ref, col.drift(), method);
  // A reference too short to calibrate the chunk-scored methods (a class profile of a few hundred rows)
  // leaves some of them unable to judge. The mean-shift test this column just passed (AR(1) standard
  // errors on both sides, above the physical floor) then casts a vote in their place.
  const gateVote =
    result.verdict !== 'drift' &&
    result.votes.decisive < result.methods.length &&
    result.votes.drift >= 1 &&
    result.votes.drift + 1 >= result.votes.needed &&
    Math.abs(shift) >= method.floorScale;
  return { ...base, verdict: gateVote ? 'drift' : result.verdict, result };
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
  readonly currents: readonly (LiveColumn | null)[];
  readonly method: DriftOptions;
}

/** Judges the ring's columns against the device's frozen baseline references. */
export function judgeBaseline(input: JudgeInput, refs: readonly DriftReference[]): BasisJudgement {
  const columns = input.features.map((f, i): ColumnJudgement => {
    const cur = input.currents[i];
    const ref = refs[i];
    if (cur === null || cur === undefined) return SUPPRESSED;
    if (ref === undefined) return NO_REFERENCE;
    return judgeColumn(ref, cur, f, input.method, input.zGate, null);
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
 * fewer than minSamples confident windows are not judged), else against the pooled profile. A profile with
 * classes where no class has minSamples confident windows is judged against the pooled profile too.
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
  const confident = model.hasClasses() ? confidentSlots(ring, minConfidence) : null;
  // A model sure of no class often enough to judge one is itself a sign the inputs left its data (a
  // calibration bias makes it hesitate): then the pooled profile judges, rather than nothing at all.
  const byClass =
    confident !== null && [...confident.values()].some((slots) => slots.length >= minSamples)
      ? confident
      : null;
  const columns = input.features.map((f, i): ColumnJudgement => {
    const cur = input.currents[i];
    if (cur === null || cur === undefined) return SUPPRESSED;
    if (byClass === null) {
      const ref = model.feature(f.name);
      if (ref === null) return NO_REFERENCE;
      return judgeColumn(ref, cur, f, input.method, input.zGate, null);
    }
    const parts: ColumnJudgement[] = [];
    for (const [l, slots] of byClass) {
      if (slots.length < minSamples) continue;
      const label = labels.names[l] ?? '';
      const ref = model.classFeature(label, f.name);
      if (ref === null) continue;
      const base = i * ring.capacity;
      for (let k = 0; k < slots.length; k++) scratch[k] = ring.values[base + (slots[k] as number)] as number;
      const sub = LiveColumn.of(f.name, scratch.subarray(0, slots.length));
      parts.push(judgeColumn(ref, sub, f, input.method, input.zGate, label));
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
