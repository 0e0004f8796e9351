// The monitors' contract (issue #9 §3-§6, docs/monitors.md): what the central integrity checks and the
// drift monitors conclude, in one shape, so that decisions, alerts, the HTTP API and (next) the update
// requests read one kind of record. A monitor observes every message ingest accepted, after its batch is
// committed, and is evaluated on a timer (collector/monitor/engine.ts). It never does I/O itself.

import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { FlagStatus, IncomingMessage, MonitorResultInput } from '../storage/types.ts';

/** QARTOD-style quality of a channel: good, suspect or fail. */
export type QcStatus = FlagStatus;

/**
 * What an alert is about:
 * - `integrity`: the data cannot be trusted (broken sensor, loss, stale or offline device, clock);
 * - `drift`: the data moved away from the reference (model validity) or from the device's own baseline;
 * - `environment`: drift explained by the surroundings (temperature, humidity, pressure moved together);
 * - `condition`: the machine's condition changed (the prediction mix moved; features still in-class);
 * - `model_update`: a model-update request (issue #10 §1): the model no longer fits these devices' data;
 * - `performance`: the model's estimated accuracy (CBPE) fell below its test accuracy by more than a margin.
 */
export type AlertKind = 'integrity' | 'drift' | 'environment' | 'condition' | 'model_update' | 'performance';

export type SuspectedCause =
  'broken_sensor' | 'calibration_drift' | 'environment_change' | 'machine_condition_change' | 'unknown';

export type RecommendedAction =
  | 'check_sensor'
  | 'check_connectivity'
  | 'check_clock'
  | 'recalibrate_sensor'
  | 'request_model_update'
  | 'inspect_machine'
  | 'none';

/** One statistic behind an observation: what was measured, against what, and how big the effect is. */
export interface Evidence {
  /** Method or check: `wasserstein`, `psi`, `ks`, `cusum`, `jensen_shannon`, `confidence_drop`, `msg_loss`… */
  readonly method: string;
  readonly statistic: number | null;
  readonly threshold: number | null;
  /** Where the threshold came from (drift ThresholdOrigin, `config`, `physics`…). */
  readonly thresholdOrigin: string | null;
  /** Effect in reference standard deviations (drift), when it has one. */
  readonly effectSigma?: number | null;
  /** Effect in the channel's physical unit (mean shift), when it has one. */
  readonly effectPhysical?: number | null;
  readonly unit?: string | null;
  /** Anything else worth showing: the offending values, n, n_eff, feature names. JSON-safe. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * One conclusion of one monitor about one subject at one evaluation. The same (check, deviceId, subject)
 * is the same alert: `active` true opens it (or counts another occurrence), false lets it resolve after
 * the alert manager's hysteresis.
 */
export interface Observation {
  readonly kind: AlertKind;
  /** null for a fleet-level observation. */
  readonly deviceId: string | null;
  /** A channel (`accel.x`), a sensor group (`accel`), or null for the whole device. */
  readonly subject: string | null;
  /** Stable id of the check: `integrity.msg_loss`, `drift.model_reference`, `condition.prediction_mix`… */
  readonly check: string;
  readonly active: boolean;
  readonly severity: 'info' | 'warning' | 'critical';
  /** Collector time of the evaluation, ms. */
  readonly atMs: number;
  /** When the condition began (device time of the first window that showed it), or null. */
  readonly sinceMs: number | null;
  /** The data judged (device time), or null. */
  readonly window: { readonly fromMs: number; readonly toMs: number } | null;
  /** One line for a human: what, where, how much. */
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  /** What the data was compared with. */
  readonly reference: {
    readonly basis: 'model_reference' | 'device_baseline' | 'none';
    readonly model: ModelRef | null;
  } | null;
  readonly cause: SuspectedCause | null;
  readonly action: { readonly kind: RecommendedAction; readonly automatic: boolean } | null;
}

/** The alert identity of an observation. */
export function observationKey(o: Pick<Observation, 'check' | 'deviceId' | 'subject'>): string {
  return `${o.check}|${o.deviceId ?? '*'}|${o.subject ?? '*'}`;
}

/** What one evaluation cycle of a monitor produced. */
export interface MonitorCycle {
  readonly observations: readonly Observation[];
  /** Rows for the monitor_results table (one per device, check and subject judged). */
  readonly results: readonly MonitorResultInput[];
}

export interface Monitor {
  readonly name: string;
  /** Every message ingest accepted (in-memory duplicates removed), in arrival order, after its commit. */
  observe(message: IncomingMessage): void;
  evaluate(nowMs: number): MonitorCycle;
}

/** Channel health as the central integrity monitor sees it; drift asks it before judging a channel. */
export interface ChannelHealth {
  /** Worst current status of a channel (`accel.x`, `humidity`); `good` for one never judged. */
  channelStatus(deviceId: string, channel: string): QcStatus;
}

/** The reference profile of the model a device runs (reference.json in its bundle). */
export interface ReferenceSource {
  /** undefined when the model is unknown here (not in the registry, or no registry mounted). */
  reference(model: ModelRef): ReferenceProfile | undefined;
}

/** Where observations go (the alert manager). */
export interface ObservationSink {
  handle(observations: readonly Observation[], nowMs: number): void;
}
