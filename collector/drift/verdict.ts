// What every drift method does the same way: refuse to judge too little data, and combine a statistical
// threshold with the physical floor (docs/drift.md, "The physical floor" and "Verdicts").

import { orderSample } from './reference.ts';
import type {
  DriftCurrent,
  DriftOptions,
  DriftReference,
  MethodResult,
  Threshold,
  ThresholdOrigin,
} from './types.ts';

/** The insufficient_data result, with the reason. */
export function insufficient(method: string, cur: DriftCurrent, note: string): MethodResult {
  return {
    method,
    score: Number.NaN,
    threshold: null,
    n: cur.series.length,
    nEff: cur.nEff,
    verdict: 'insufficient_data',
    evidence: {},
    note,
  };
}

/** Why a column cannot be judged at all, or null. */
export function tooLittle(ref: DriftReference, cur: DriftCurrent, options: DriftOptions): string | null {
  if (cur.series.length < options.minSamples)
    return `${cur.series.length} finite current values < minSamples ${options.minSamples}`;
  if (cur.nEff < options.minEffectiveSamples)
    return `current n_eff ${cur.nEff.toFixed(1)} < minEffectiveSamples ${options.minEffectiveSamples} (lag-1 autocorrelation ${cur.lag1.toFixed(3)})`;
  if (ref.n < options.minSamples)
    return `${ref.n} finite reference values < minSamples ${options.minSamples}`;
  if (!(ref.scale > 0)) return 'the reference has no spread (std and MAD are 0)';
  return null;
}

/** max(statistical, floor), naming whichever decided. */
export function withFloor(
  statistical: number,
  origin: ThresholdOrigin,
  floor: number,
  detail: string,
): Threshold {
  const floored = floor > statistical;
  return {
    value: floored ? floor : statistical,
    origin: floored ? 'physical-floor' : origin,
    statistical,
    floor,
    detail,
  };
}

/** Reference order statistics shifted by ±floorScale scales: the "smallest shift worth an alert". */
export function floorSamples(
  ref: DriftReference,
  options: DriftOptions,
): { base: Float64Array; up: Float64Array; down: Float64Array } {
  const base = orderSample(ref.sorted, 2000);
  const d = options.floorScale * ref.scale;
  return { base, up: base.map((v) => v + d), down: base.map((v) => v - d) };
}

/** A method's result from its score and threshold. */
export function judged(
  method: string,
  cur: DriftCurrent,
  score: number,
  threshold: Threshold,
  evidence: Record<string, number>,
): MethodResult {
  return {
    method,
    score,
    threshold,
    n: cur.series.length,
    nEff: cur.nEff,
    verdict: score > threshold.value ? 'drift' : 'ok',
    evidence,
  };
}
