// The prediction mix of a device as a condition check (check `condition.prediction_mix`): the current
// class mix against the model's reference mix (class profiles' row shares) and the device baseline's
// mix, by Jensen–Shannon distance, and the drop of mean top-class confidence below the baseline's. A
// moved mix with the features inside the class-conditional reference is a machine condition change.

import type { Observation } from '../../monitor/types.ts';
import type { MonitorResultInput } from '../../storage/types.ts';
import type { DeviceBaseline } from './baseline.ts';
import { jensenShannonDistance, mixRecord, ringPredictions, toMix, type LabelTable } from './mix.ts';
import type { WindowRing } from './ring.ts';
import type { DriftMonitorOptions, PredictionMixSnapshot } from './types.ts';
import type { ModelRef } from '../../../shared/mqtt/schemas.ts';

const r4 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);

/** The mix state of a device's ring, or null when it holds no prediction (a device without a model). */
export function mixState(
  d: { readonly ring: WindowRing; readonly baseline: DeviceBaseline },
  referenceMix: ReadonlyMap<string, number> | null,
  labels: LabelTable,
  o: DriftMonitorOptions,
  minSamples: number,
): PredictionMixSnapshot | null {
  const cur = ringPredictions(d.ring, labels);
  if (cur.n === 0) return null;
  const b = d.baseline;
  const baseMix = b.state === 'ready' && b.labelCounts.size > 0 ? toMix(b.labelCounts, labels) : null;
  const baseConf = b.state === 'ready' && b.confidenceN > 0 ? b.confidenceSum / b.confidenceN : Number.NaN;
  const dRef = referenceMix === null ? Number.NaN : jensenShannonDistance(cur.mix, referenceMix);
  const dBase = baseMix === null ? Number.NaN : jensenShannonDistance(cur.mix, baseMix);
  const drop = baseConf - cur.meanConfidence;
  const thr = o.mixDistanceThreshold ?? 0.3;
  // Moved against the device's own mix only: a training set's class mix is chosen (often balanced), not
  // what a healthy machine shows, so the distance to it is reported but does not decide.
  const moved = cur.n >= minSamples && (dBase > thr || drop > (o.confidenceDropThreshold ?? 0.15));
  return {
    n: cur.n,
    current: mixRecord(cur.mix),
    reference: referenceMix === null ? null : mixRecord(referenceMix),
    baseline: baseMix === null ? null : mixRecord(baseMix),
    distanceToReference: r4(dRef),
    distanceToBaseline: r4(dBase),
    meanConfidence: r4(cur.meanConfidence),
    confidenceDrop: r4(drop),
    moved,
  };
}

/** The mix's result row (subject null: the whole device). */
export function mixResult(
  deviceId: string,
  m: PredictionMixSnapshot,
  nowMs: number,
  threshold: number,
): MonitorResultInput {
  const stat = Math.max(m.distanceToReference ?? 0, m.distanceToBaseline ?? 0);
  return {
    deviceId,
    monitor: 'condition.prediction_mix',
    channel: null,
    tsMs: nowMs,
    status: m.moved ? 'moved' : 'ok',
    statistic: stat,
    threshold,
    details: m,
  };
}

export interface MixObservationInput {
  readonly deviceId: string;
  readonly model: ModelRef | null;
  readonly mix: PredictionMixSnapshot;
  readonly active: boolean;
  readonly atMs: number;
  readonly sinceMs: number | null;
  readonly window: { readonly fromMs: number; readonly toMs: number } | null;
  /** A group drifts against the model reference too: the features are not in-class. */
  readonly featuresMoved: boolean;
  readonly mixThreshold: number;
  readonly confidenceThreshold: number;
}

/** The condition observation: machine_condition_change when the features stay in-class. */
export function mixObservation(i: MixObservationInput): Observation {
  const m = i.mix;
  const cause = i.featuresMoved ? 'unknown' : 'machine_condition_change';
  const top = Object.entries(m.current).sort((a, b) => b[1] - a[1])[0];
  return {
    kind: 'condition',
    deviceId: i.deviceId,
    subject: null,
    check: 'condition.prediction_mix',
    active: i.active,
    severity: 'warning',
    atMs: i.atMs,
    sinceMs: i.sinceMs,
    window: i.window,
    summary: i.active
      ? `prediction mix on ${i.deviceId} moved (now ${top === undefined ? 'n/a' : `${top[0]} ${Math.round(top[1] * 100)}%`}, JS distance ${m.distanceToReference ?? m.distanceToBaseline ?? 'n/a'})${i.featuresMoved ? '' : ', features within the class-conditional reference'}; suspected ${cause.replace(/_/g, ' ')}`
      : `prediction mix on ${i.deviceId} is back to its reference`,
    evidence: [
      {
        method: 'jensen_shannon',
        statistic: m.distanceToReference,
        threshold: i.mixThreshold,
        thresholdOrigin: 'config',
        detail: { against: 'model_reference', current: m.current, reference: m.reference, n: m.n },
      },
      {
        method: 'jensen_shannon',
        statistic: m.distanceToBaseline,
        threshold: i.mixThreshold,
        thresholdOrigin: 'config',
        detail: { against: 'device_baseline', current: m.current, baseline: m.baseline, n: m.n },
      },
      {
        method: 'confidence_drop',
        statistic: m.confidenceDrop,
        threshold: i.confidenceThreshold,
        thresholdOrigin: 'config',
        detail: { meanConfidence: m.meanConfidence },
      },
    ],
    reference: {
      basis: m.reference !== null ? 'model_reference' : m.baseline !== null ? 'device_baseline' : 'none',
      model: i.model,
    },
    cause: i.active ? cause : null,
    action: i.active ? { kind: 'inspect_machine', automatic: false } : null,
  };
}
