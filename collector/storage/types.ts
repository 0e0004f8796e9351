// The collector's storage contract (issue #9 §2 "Storage", docs/storage.md): what MQTT ingest writes, and
// what the monitors and the HTTP API read. One interface, one file per backend (STYLE.md): SQLite today
// (sqlite-store.ts); a PostgreSQL backend for multi-collector deployments implements the same interface.
//
// Every method is synchronous on purpose: better-sqlite3 is, and a batch is ONE transaction with no await
// inside (STYLE.md habit 12). A network backend would wrap this contract in promises at its own seam.

import type { DecodedMessage } from '../../shared/mqtt/codec.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';

/** One decoded message (shared/mqtt decodeMessage) and when the collector received it (its clock, ms). */
export interface IncomingMessage {
  readonly message: DecodedMessage;
  readonly receivedMs: number;
}

export interface WriteBatchResult {
  /** Messages stored for the first time. */
  readonly written: number;
  /** Already stored: same (deviceId, runId, msgSeq). A QoS 1 redelivery, or a replay after a restart. */
  readonly duplicates: number;
  /**
   * Telemetry dated (device tsMs) before the retention horizon of the last compact(): it may be a
   * redelivery of a window already rolled up and deleted, so it is refused rather than counted twice.
   */
  readonly expired: number;
  /** Raw sample blocks outside every capture request (raw samples are kept on demand only). */
  readonly notCaptured: number;
}

export type FlagStatus = 'good' | 'suspect' | 'fail';

export interface DeviceRecord {
  readonly deviceId: string;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  /** Last status message: state and reason, dated by the collector's receive time. */
  readonly lastStatus: {
    readonly state: 'online' | 'offline';
    readonly reason: string;
    readonly atMs: number;
  } | null;
  readonly bootId: number | null;
  readonly runId: number | null;
  /** The model the device last reported serving (telemetry, status or model state). */
  readonly model: ModelRef | null;
  readonly firmwareVersion: string | null;
  readonly agentVersion: string | null;
}

export interface WindowRecord {
  readonly deviceId: string;
  readonly runId: number;
  readonly msgSeq: number;
  /** Sender wall clock (telemetry tsMs). */
  readonly tsMs: number;
  readonly receivedMs: number;
  readonly bootId: number;
  readonly windowIndex: number;
  readonly startUs: number;
  readonly endUs: number;
  readonly featurePipeline: string | null;
  /** Column names of `values`, shared between records of the same layout: do not mutate. */
  readonly featureNames: readonly string[];
  /** float32, bit-exact as written; NaN where the telemetry had null (imputed or not finite). */
  readonly values: Float32Array;
  readonly model: ModelRef | null;
  readonly prediction: {
    readonly label: string;
    readonly probabilities: Readonly<Record<string, number>>;
    readonly latencyMs: number;
  } | null;
  readonly integrityStatus: FlagStatus;
  /** The window's integrity flags as sent (JSON), or [] when it had none. */
  readonly integrityFlags: readonly unknown[];
  readonly counters: {
    readonly framesDecoded: number;
    readonly framesInvalid: number;
    readonly samples: number;
    readonly gaps: number;
    readonly samplesMissing: number;
    readonly windows: number;
  };
}

export interface TimeRange {
  readonly deviceId: string;
  /** Inclusive, ms (sender tsMs for windows and events). */
  readonly fromMs: number;
  /** Exclusive, ms. */
  readonly toMs: number;
  /** Most rows returned, oldest first. Default 10,000. */
  readonly limit?: number;
}

export type RollupResolution = 'minute' | 'hour';

/** Mergeable summary of one feature over a bucket (rollup.ts mergeSummaries). */
export interface FeatureSummary {
  /** Non-null values. */
  readonly count: number;
  readonly sum: number;
  readonly sumSq: number;
  /** +Infinity / -Infinity when count is 0. */
  readonly min: number;
  readonly max: number;
  /** Counts per reference bin (edges.length + 1 bins, shared/bundle binIndex), when edges were given. */
  readonly histogram: { readonly edges: readonly number[]; readonly counts: readonly number[] } | null;
}

export interface RollupRecord {
  readonly deviceId: string;
  readonly resolution: RollupResolution;
  readonly bucketStartMs: number;
  readonly featurePipeline: string | null;
  /** Windows rolled into this bucket. */
  readonly windows: number;
  /** Selected features (all when the query named none), by name. */
  readonly features: Readonly<Record<string, FeatureSummary>>;
  /** Prediction mix: windows per label, and the sum of top-class confidences over those windows. */
  readonly predictions: {
    readonly labelCounts: Readonly<Record<string, number>>;
    readonly confidenceSum: number;
  };
}

export interface RollupQuery extends Omit<TimeRange, 'limit'> {
  readonly resolution: RollupResolution;
  /** Feature names to return; default all. */
  readonly features?: readonly string[];
}

export interface IntegrityEventRecord {
  readonly id: number;
  readonly deviceId: string;
  readonly runId: number;
  readonly msgSeq: number;
  readonly tsMs: number;
  readonly receivedMs: number;
  readonly bootId: number;
  readonly windowIndex: number;
  readonly channel: string;
  readonly check: string;
  readonly status: FlagStatus;
  readonly previousStatus: FlagStatus;
  readonly reason: string;
  readonly value: number | null;
  readonly threshold: number | null;
}

export interface MonitorResultInput {
  /** null for a fleet-level result. */
  readonly deviceId: string | null;
  /** e.g. 'integrity.staleness', 'drift.psi'. */
  readonly monitor: string;
  readonly channel: string | null;
  readonly tsMs: number;
  readonly status: string;
  readonly statistic: number | null;
  readonly threshold: number | null;
  /** Free-form evidence, stored as JSON. */
  readonly details?: unknown;
}

export interface MonitorResultRecord extends MonitorResultInput {
  readonly id: number;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';

export interface AlertInput {
  /** One alert per key is open or acknowledged at a time; raising it again counts an occurrence. */
  readonly dedupKey: string;
  /** e.g. 'integrity', 'drift', 'device.outbox'. */
  readonly kind: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly deviceId: string | null;
  readonly channel: string | null;
  readonly message: string;
  readonly details?: unknown;
}

export interface AlertRecord extends Omit<AlertInput, 'details'> {
  readonly id: number;
  readonly state: AlertState;
  readonly openedMs: number;
  readonly lastSeenMs: number;
  readonly occurrences: number;
  readonly acknowledgedMs: number | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedMs: number | null;
  readonly details: unknown;
}

export interface AlertQuery {
  readonly state?: AlertState;
  readonly deviceId?: string;
  readonly kind?: string;
  /** Newest first. Default 1,000. */
  readonly limit?: number;
}

export interface DeploymentRecord {
  readonly deviceId: string;
  readonly model: ModelRef;
  /** Sender time of the first message that reported this model. */
  readonly sinceMs: number;
  /** Sender time of the first message that reported another model; null while it serves. */
  readonly untilMs: number | null;
  /** Message kind that reported it first: 'telemetry', 'status' or 'modelState'. */
  readonly source: string;
}

export interface CaptureRecord {
  readonly id: number;
  readonly deviceId: string;
  /** Collector receive time range [fromMs, toMs) of the raw blocks kept. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly createdMs: number;
  readonly note: string;
}

export interface RawBlockRecord {
  readonly captureId: number;
  readonly deviceId: string;
  readonly runId: number;
  readonly msgSeq: number;
  readonly receivedMs: number;
  readonly sensorId: number;
  readonly axes: number;
  readonly bootId: number;
  readonly firstIndex: number;
  readonly timestampUs: number;
  readonly periodUs: number;
  readonly count: number;
  readonly values: Float32Array;
}

export interface CompactOptions {
  /** Most transactions this call runs; the caller yields to the event loop between calls. Default Infinity. */
  readonly maxBatches?: number;
}

export interface CompactResult {
  readonly windowsRolledUp: number;
  readonly windowsDeleted: number;
  readonly rollupsDeleted: number;
  readonly otherDeleted: number;
  readonly batches: number;
  /** False when maxBatches stopped it with work left: call again. */
  readonly done: boolean;
}

export interface StorageFootprint {
  /** Database pages in use, bytes (file size less free pages; the WAL is not counted). */
  readonly bytes: number;
  /** Bytes per table and index (SQLite dbstat), when the backend can tell. */
  readonly bytesByObject: Readonly<Record<string, number>>;
}

export interface TelemetryStore {
  /** Stores a batch in one transaction; idempotent by (deviceId, runId, msgSeq). */
  writeBatch(batch: readonly IncomingMessage[]): WriteBatchResult;
  /** Rolls windows up into minute and hour summaries, then applies retention, in bounded transactions. */
  compact(nowMs: number, options?: CompactOptions): CompactResult;

  devices(): DeviceRecord[];
  device(deviceId: string): DeviceRecord | undefined;
  windows(range: TimeRange): WindowRecord[];
  /** The newest window (by tsMs) of every device that has one. */
  latestWindows(): WindowRecord[];
  rollups(query: RollupQuery): RollupRecord[];
  integrityEvents(range: TimeRange): IntegrityEventRecord[];

  writeMonitorResults(results: readonly MonitorResultInput[]): void;
  monitorResults(range: TimeRange & { readonly monitor?: string }): MonitorResultRecord[];

  /** Opens an alert, or counts another occurrence of the open/acknowledged one with the same dedupKey. */
  raiseAlert(alert: AlertInput, nowMs: number): AlertRecord;
  acknowledgeAlert(id: number, by: string, nowMs: number): AlertRecord | undefined;
  resolveAlert(id: number, nowMs: number): AlertRecord | undefined;
  alerts(query?: AlertQuery): AlertRecord[];

  deployments(deviceId: string): DeploymentRecord[];

  /** Keep raw sample blocks the device sends for [fromMs, toMs) of collector time. */
  requestCapture(deviceId: string, fromMs: number, toMs: number, nowMs: number, note?: string): CaptureRecord;
  captures(deviceId?: string): CaptureRecord[];
  rawBlocks(captureId: number): RawBlockRecord[];
  /** Deletes a capture and its blocks. */
  deleteCapture(captureId: number): boolean;

  footprint(): StorageFootprint;
  /** Idempotent. */
  close(): void;
}
