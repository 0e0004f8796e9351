// How well a model's reference profile fits what devices send now (issue #10 §1 "a newer approved
// version whose reference profile fits the devices' current data better", §3 "drift of the inputs against
// the new model's reference (it should fall)"). One number per device and reference, lower is better:
//
//   distance = mean over the monitored features of W1(current, reference) / σ(reference)
//
// W1 is the Wasserstein-1 distance the drift monitor votes with (collector/drift/wasserstein.ts), taken
// against the reference's stored order statistics and put in reference standard deviations, so features
// of different units average. Where the profile has class-conditional parts (reference.json `classes`),
// each device is judged against the class that explains its data best: a healthy machine is compared with
// `normal`, not with a pool of five machine states.

import type { FeatureReference, ReferenceProfile } from '../../shared/bundle/reference.ts';
import { classLabels, classReference } from '../../shared/bundle/reference.ts';
import { defaultFeatureNames } from '../drift/live/features.ts';
import { sortedCopy } from '../drift/sort.ts';
import { wasserstein1 } from '../drift/stats.ts';
import type { WindowRecord } from '../storage/types.ts';

/** A class spread this small against the pooled one is a near-constant column: floor it (share of pooled σ). */
const MIN_CLASS_SCALE_SHARE = 0.05;
/** Fewest finite values of a feature before it is judged. */
export const MIN_FIT_VALUES = 10;

export interface FeatureFit {
  readonly feature: string;
  /** W1 / σ of the reference, in reference standard deviations. */
  readonly distanceSigma: number;
  readonly currentMean: number;
  readonly referenceMean: number;
}

export interface DeviceFit {
  readonly deviceId: string;
  /** Mean of the features' distances; null when no feature could be judged. */
  readonly distance: number | null;
  /** The class profile that fits best, or null for the pooled profile. */
  readonly bestClass: string | null;
  readonly windows: number;
  /** The features judged, worst first. */
  readonly features: readonly FeatureFit[];
}

export interface FleetFit {
  /** Mean of the devices' distances (devices without one left out); null when none had one. */
  readonly distance: number | null;
  readonly devices: readonly DeviceFit[];
}

interface Scaled {
  readonly mean: number;
  readonly std: number;
  readonly sample: readonly number[];
}

function columnOf(windows: readonly WindowRecord[], feature: string): Float64Array {
  const out: number[] = [];
  for (const w of windows) {
    const j = w.featureNames.indexOf(feature);
    if (j < 0) continue;
    const v = w.values[j];
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return sortedCopy(Float64Array.from(out));
}

function featureDistance(current: Float64Array, ref: Scaled, pooledStd: number): number | null {
  if (current.length < MIN_FIT_VALUES || ref.sample.length === 0) return null;
  const scale = Math.max(ref.std, MIN_CLASS_SCALE_SHARE * pooledStd, 1e-9);
  return wasserstein1(current, Float64Array.from(ref.sample)) / scale;
}

function mean(xs: readonly number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The features judged: the drift monitor's defaults that the profile and the windows both have. */
export function fitFeatures(profile: ReferenceProfile, windows: readonly WindowRecord[]): string[] {
  const inRef = new Set(profile.features.map((f) => f.name));
  const inData = new Set(windows.flatMap((w) => w.featureNames));
  return defaultFeatureNames().filter((n) => inRef.has(n) && inData.has(n));
}

/** The fit of one device's windows to one reference profile. */
export function deviceFit(
  deviceId: string,
  windows: readonly WindowRecord[],
  profile: ReferenceProfile,
): DeviceFit {
  const names = fitFeatures(profile, windows);
  const pooled = new Map<string, FeatureReference>(profile.features.map((f) => [f.name, f]));
  const columns = new Map(names.map((n) => [n, columnOf(windows, n)]));
  const candidates: { label: string | null; refs: ReadonlyMap<string, Scaled> }[] = [
    { label: null, refs: pooled },
  ];
  for (const label of classLabels(profile)) {
    const refs = classReference(profile, label);
    if (refs !== undefined) candidates.push({ label, refs });
  }
  let best: DeviceFit = { deviceId, distance: null, bestClass: null, windows: windows.length, features: [] };
  for (const c of candidates) {
    const features: FeatureFit[] = [];
    for (const n of names) {
      const ref = c.refs.get(n);
      const cur = columns.get(n);
      if (ref === undefined || cur === undefined) continue;
      const d = featureDistance(cur, ref, pooled.get(n)?.std ?? ref.std);
      if (d === null) continue;
      features.push({
        feature: n,
        distanceSigma: d,
        currentMean: cur.reduce((a, b) => a + b, 0) / cur.length,
        referenceMean: ref.mean,
      });
    }
    const distance = mean(features.map((f) => f.distanceSigma));
    if (distance !== null && (best.distance === null || distance < best.distance)) {
      features.sort((a, b) => b.distanceSigma - a.distanceSigma);
      best = { deviceId, distance, bestClass: c.label, windows: windows.length, features };
    }
  }
  return best;
}

/** The fit of several devices' windows (grouped by device) to one reference profile. */
export function fleetFit(
  windowsByDevice: ReadonlyMap<string, readonly WindowRecord[]>,
  profile: ReferenceProfile,
): FleetFit {
  const devices = [...windowsByDevice].map(([id, ws]) => deviceFit(id, ws, profile));
  return {
    distance: mean(devices.flatMap((d) => (d.distance === null ? [] : [d.distance]))),
    devices,
  };
}
