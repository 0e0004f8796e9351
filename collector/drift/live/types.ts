// Options of the live drift monitor and the shape of its snapshot (the HTTP API's view of it,
// docs/monitors.md "Snapshot"). The observations and result rows follow collector/monitor/types.ts.

import type { ModelRef } from '../../../shared/mqtt/schemas.ts';
import type { RecommendedAction } from '../../monitor/types.ts';
import type { DriftOptions, Verdict } from '../types.ts';

export interface DriftMonitorOptions {
  /** Windows per device judged by each evaluation (the newest). collector config driftWindow. */
  readonly driftWindow: number;
  /** Monitored features; [] = each channel's level and spread (features.ts). */
  readonly driftFeatures: readonly string[];
  /** Device time learned as the device's own baseline after a model is activated / it is first seen, s. */
  readonly commissioningS: number;
  /** Consecutive drift evaluations of a group before a decision. */
  readonly driftPersistence: number;
  /** After an automatic action on a device, no other automatic action for this long, s. */
  readonly driftCooldownS: number;
  /** A device is evaluated when this fraction of driftWindow arrived since its last evaluation. Default 0.1. */
  readonly evaluateFraction?: number;
  /** Windows whose top probability is at least this are compared class-conditionally. Default 0.8. */
  readonly confidentProbability?: number;
  /** Jensen–Shannon distance between class mixes that counts as a moved mix. Default 0.3. */
  readonly mixDistanceThreshold?: number;
  /** Drop of the mean top-class probability below the device baseline's that counts as moved. Default 0.15. */
  readonly confidenceDropThreshold?: number;
  /** A group moving on at least this many devices (and fleetMinFraction of them) is a fleet observation. Default 3. */
  readonly fleetMinDevices?: number;
  /** Default 0.2. */
  readonly fleetMinFraction?: number;
  /** A subject's result row is written on a status change, else at most this often, ms. Default 60000. */
  readonly resultIntervalMs?: number;
  /** Actions the collector may take by itself (the next issue's update requests); [] = none. */
  readonly automaticActions?: readonly RecommendedAction[];
  /** Physical floor per feature, in its unit (features.ts DEFAULT_PHYSICAL_FLOORS). */
  readonly physicalFloors?: Readonly<Record<string, number>>;
  /** A drift verdict also needs the mean shift to be this many AR(1) standard errors. Default 5. */
  readonly meanShiftZ?: number;
  /** Device baselines prepared per evaluate() at most (about 20 ms each). Default 25. */
  readonly baselineFreezesPerCycle?: number;
  /** Drift method options over the live defaults (monitor.ts liveMethodOptions). */
  readonly method?: Partial<DriftOptions>;
  /** Devices tracked at most (a bound on memory); later devices are not monitored and are counted. Default 100000. */
  readonly maxDevices?: number;
}

export type Basis = 'model_reference' | 'device_baseline';
export type GroupStatus = Verdict | 'suppressed' | 'learning' | 'no_reference';

export interface FeatureSnapshot {
  readonly feature: string;
  readonly verdict: Verdict | 'suppressed';
  /** Current mean minus reference mean, in reference σ (NaN → null). */
  readonly shiftSigma: number | null;
  /** The mean shift in AR(1) standard errors (the gate a drift verdict must pass). */
  readonly meanZ: number | null;
  /** The class whose reference judged it (class-conditional), or null. */
  readonly label: string | null;
  /** Score / threshold / verdict per method; empty when the column was screened out by the gate. */
  readonly methods: Readonly<
    Record<
      string,
      { readonly score: number | null; readonly threshold: number | null; readonly verdict: Verdict }
    >
  >;
}

export interface GroupSnapshot {
  readonly group: string;
  readonly basis: Basis;
  readonly status: GroupStatus;
  /** Consecutive drift evaluations so far, and whether a decision was made (>= driftPersistence). */
  readonly consecutive: number;
  readonly decided: boolean;
  /** Device time of the first evaluation of the current run of drift verdicts, or null. */
  readonly sinceMs: number | null;
  readonly features: readonly FeatureSnapshot[];
}

export interface PredictionMixSnapshot {
  /** Windows with a prediction in the ring. */
  readonly n: number;
  readonly current: Readonly<Record<string, number>>;
  readonly reference: Readonly<Record<string, number>> | null;
  readonly baseline: Readonly<Record<string, number>> | null;
  readonly distanceToReference: number | null;
  readonly distanceToBaseline: number | null;
  readonly meanConfidence: number | null;
  readonly confidenceDrop: number | null;
  readonly moved: boolean;
}

export interface DeviceDriftSnapshot {
  readonly deviceId: string;
  readonly model: ModelRef | null;
  /** Bases that apply: the model reference when the model's profile is known, the baseline when ready. */
  readonly bases: readonly Basis[];
  /** Device time span held in the ring, and its window count. */
  readonly window: { readonly fromMs: number; readonly toMs: number; readonly n: number } | null;
  readonly baseline: {
    readonly state: 'learning' | 'complete' | 'ready' | 'disabled';
    readonly startedMs: number | null;
    readonly readyMs: number | null;
    readonly windows: number;
  };
  /** Collector time of the last evaluation, or null. */
  readonly evaluatedMs: number | null;
  readonly groups: readonly GroupSnapshot[];
  readonly predictionMix: PredictionMixSnapshot | null;
}

export interface DriftSnapshot {
  readonly atMs: number | null;
  readonly features: readonly string[];
  readonly devices: readonly DeviceDriftSnapshot[];
  /** Groups moving on many devices at once (fleet observations currently active). */
  readonly fleet: readonly { readonly basis: Basis; readonly group: string; readonly devices: number }[];
  /** Devices not monitored because maxDevices was reached. */
  readonly devicesDropped: number;
}
