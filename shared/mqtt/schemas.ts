// JSON payload schemas v1 (docs/mqtt.md §Payloads). Every payload carries the same envelope:
//
//   v        schema version (1). A breaking change bumps it; receivers drop versions they do not know.
//   deviceId the device the message is about (must equal the device in the topic).
//   runId    u32 chosen at random when the sending process starts (the agent, or the collector for
//            model commands). (runId, msgSeq) identifies a message.
//   msgSeq   per-sender message sequence, +1 for every message, starting at 1 in each run. 0 is reserved
//            for the last-will status, which is built before any message is sent.
//   tsMs     sender wall clock when the message was created, ms since the Unix epoch.
//
// Unknown fields are stripped rather than refused, so a newer sender may add optional fields without a
// version bump; receivers must not rely on anything not listed here.

import { z } from 'zod';
import { integrityCheckNames } from '../samples.ts';
import { validateDeviceId } from './topics.ts';

export const PAYLOAD_VERSION = 1;
const U32_MAX = 0xffff_ffff;

const u32 = z.number().int().min(0).max(U32_MAX);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const deviceId = z.string().refine((s) => validateDeviceId(s).ok, { message: 'invalid device id' });
const flagStatus = z.enum(['good', 'suspect', 'fail']);
const errorCode = z.string().regex(/^EDGELOOP_ERR_[A-Z0-9_]+$/);

export const envelopeShape = {
  v: z.literal(PAYLOAD_VERSION),
  deviceId,
  runId: u32,
  msgSeq: count,
  tsMs: count,
};

export const modelRefSchema = z.object({
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
});
export type ModelRef = z.infer<typeof modelRefSchema>;

export const integrityFlagSchema = z.object({
  channel: z.string().min(1),
  check: z.enum(integrityCheckNames),
  status: flagStatus,
  reason: z.string(),
  value: z.number().optional(),
  threshold: z.number().optional(),
});

/** One window's result (issue #4 §2): features, prediction, model, integrity flags, ingest counters. */
export const telemetrySchema = z.object({
  ...envelopeShape,
  /** Device boot id from HELLO: a new one means device sequence numbers and time restarted. */
  bootId: u32,
  window: z.object({ index: count, startUs: z.number(), endUs: z.number() }),
  /** Feature pipeline id and version that produced `features`, e.g. "imu-basic@1". */
  featurePipeline: z.string().nullable(),
  /** Feature name → value; null where the value was not finite (JSON has no NaN). */
  features: z.record(z.string(), z.number().nullable()),
  prediction: z
    .object({
      label: z.string(),
      probabilities: z.record(z.string(), z.number().min(0).max(1)),
      latencyMs: z.number().min(0),
    })
    .nullable(),
  model: modelRefSchema.nullable(),
  integrity: z.object({
    status: flagStatus,
    channels: z.record(z.string(), flagStatus),
    flags: z.array(integrityFlagSchema),
  }),
  /** Totals since the agent started; receivers diff them between windows. */
  counters: z.object({
    framesDecoded: count,
    framesInvalid: count,
    samples: count,
    /** Sample index gaps seen, and the samples they lost. */
    gaps: count,
    samplesMissing: count,
    windows: count,
  }),
});
export type TelemetryPayload = z.infer<typeof telemetrySchema>;

/**
 * Retained; the last will carries state "offline", reason "lwt" and msgSeq 0. Its tsMs is the time of the
 * CONNECT that armed it (MQTT-3.1.2-8 fixes the will then), so receivers date a will by its arrival.
 * "reconnect": online again after a lost connection, same run (issue #8 §2).
 */
export const statusSchema = z.object({
  ...envelopeShape,
  state: z.enum(['online', 'offline']),
  reason: z.enum(['startup', 'reconnect', 'shutdown', 'lwt', 'update']),
  model: modelRefSchema.nullable(),
  firmwareVersion: z.string().nullable(),
  agentVersion: z.string().min(1),
  bootId: u32.nullable(),
});
export type StatusPayload = z.infer<typeof statusSchema>;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/**
 * Collector → device. `deploySeq` is the downgrade guard, distinct from msgSeq (transport dedup): it grows
 * with every command the rollout controller issues for a device, and the agent refuses one that is not
 * greater than the last it applied.
 */
export const modelCommandSchema = z.discriminatedUnion('action', [
  z.object({
    ...envelopeShape,
    action: z.literal('install'),
    deploySeq: count,
    model: modelRefSchema,
    url: z.url(),
    digest,
    sizeBytes: count.optional(),
    rolloutId: z.string().optional(),
  }),
  z.object({
    ...envelopeShape,
    action: z.literal('rollback'),
    deploySeq: count,
    reason: z.string(),
    rolloutId: z.string().optional(),
  }),
]);
export type ModelCommandPayload = z.infer<typeof modelCommandSchema>;

export const modelStates = [
  'IDLE',
  'DOWNLOADING',
  'VERIFYING',
  'STAGED',
  'ACTIVATING',
  'HEALTH_CHECK',
  'COMMITTED',
  'ROLLED_BACK',
  'FAILED',
] as const;
export type ModelStateName = (typeof modelStates)[number];

/** Device → collector, retained: the last transition of the model manager (issue #4 §4). */
export const modelStateSchema = z.object({
  ...envelopeShape,
  state: z.enum(modelStates),
  deploySeq: count.nullable(),
  /** The model being installed, or null when idle. */
  target: modelRefSchema.nullable(),
  /** The model serving right now. */
  active: modelRefSchema.nullable(),
  reason: z.string(),
  code: errorCode.nullable(),
});
export type ModelStatePayload = z.infer<typeof modelStateSchema>;

export const alertSchema = z.object({
  ...envelopeShape,
  /** Unique per device and stable across redelivery, e.g. `${runId}-${msgSeq}`. */
  alertId: z.string().min(1).max(128),
  severity: z.enum(['info', 'warning', 'critical']),
  /** What raised it: 'integrity', 'inference', 'outbox', 'model', 'serial', ... */
  source: z.string().min(1).max(64),
  message: z.string(),
  channel: z.string().optional(),
  value: z.number().optional(),
  threshold: z.number().optional(),
  code: errorCode.optional(),
});
export type AlertPayload = z.infer<typeof alertSchema>;

/**
 * Sent when a channel's worst integrity status changes (not every window), so a broken sensor is one event
 * and its recovery another. `check`, `reason`, `value` and `threshold` are those of the flag behind the new
 * status; a recovery to good names the check that had flagged the channel and has no value.
 */
export const integrityEventSchema = z.object({
  ...envelopeShape,
  bootId: u32,
  /** The window whose flags changed the status: its index (as in telemetry) and device time span, µs. */
  windowIndex: count,
  windowStartUs: z.number().optional(),
  windowEndUs: z.number().optional(),
  channel: z.string().min(1),
  check: z.enum(integrityCheckNames),
  status: flagStatus,
  previousStatus: flagStatus,
  reason: z.string(),
  value: z.number().optional(),
  threshold: z.number().optional(),
});
export type IntegrityEventPayload = z.infer<typeof integrityEventSchema>;

/** Schema per JSON topic kind (raw samples are binary: shared/mqtt/raw-codec.ts). */
export const payloadSchemas = {
  telemetry: telemetrySchema,
  status: statusSchema,
  modelCommand: modelCommandSchema,
  modelState: modelStateSchema,
  alert: alertSchema,
  integrity: integrityEventSchema,
} as const;
export type JsonTopicKind = keyof typeof payloadSchemas;

export interface PayloadByKind {
  readonly telemetry: TelemetryPayload;
  readonly status: StatusPayload;
  readonly modelCommand: ModelCommandPayload;
  readonly modelState: ModelStatePayload;
  readonly alert: AlertPayload;
  readonly integrity: IntegrityEventPayload;
}

// The collector's alert events (docs/mqtt.md §Alerts (collector), docs/alerts.md §Content): the payload of
// the collector alert topics (topics.ts collectorAlertTopic) and the body of alert webhooks. Not a device
// message, so no device envelope: `v`, then the event, then the alert after the change.

const severity = z.enum(['info', 'warning', 'critical']);
const nullableNumber = z.number().nullable();

/** One statistic behind an alert (collector/monitor/types.ts Evidence). */
export const alertEvidenceSchema = z.object({
  method: z.string(),
  statistic: nullableNumber,
  threshold: nullableNumber,
  thresholdOrigin: z.string().nullable(),
  effectSigma: nullableNumber.optional(),
  effectPhysical: nullableNumber.optional(),
  unit: z.string().nullable().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** The full explanation of an alert (collector/alerts/types.ts AlertDetails). */
export const alertDetailsSchema = z.object({
  kind: z.enum(['integrity', 'drift', 'environment', 'condition', 'model_update', 'performance']),
  check: z.string(),
  subject: z.string().nullable(),
  summary: z.string(),
  atMs: count,
  sinceMs: z.number().nullable(),
  window: z.object({ fromMs: z.number(), toMs: z.number() }).nullable(),
  evidence: z.array(alertEvidenceSchema),
  reference: z
    .object({
      basis: z.enum(['model_reference', 'device_baseline', 'none']),
      model: modelRefSchema.nullable(),
    })
    .nullable(),
  cause: z
    .enum(['broken_sensor', 'calibration_drift', 'environment_change', 'machine_condition_change', 'unknown'])
    .nullable(),
  action: z.object({ kind: z.string(), automatic: z.boolean() }).nullable(),
});

export const collectorAlertEventSchema = z.object({
  v: z.literal(PAYLOAD_VERSION),
  /** Unique per change and stable across retries: receivers deduplicate on it. */
  eventId: z.string().min(1).max(128),
  event: z.enum(['opened', 'escalated', 'acknowledged', 'resolved']),
  /** Collector time of the change, ms since the Unix epoch. */
  tsMs: count,
  alert: z.object({
    id: count,
    /** Alert identity `check|deviceId or *|subject or *`: one live alert per key. */
    key: z.string(),
    kind: z.string(),
    check: z.string(),
    severity,
    state: z.enum(['open', 'acknowledged', 'resolved']),
    deviceId: z.string().nullable(),
    subject: z.string().nullable(),
    message: z.string(),
    openedMs: count,
    lastSeenMs: count,
    occurrences: count,
    acknowledgedMs: z.number().nullable(),
    acknowledgedBy: z.string().nullable(),
    resolvedMs: z.number().nullable(),
    details: alertDetailsSchema.nullable(),
  }),
});
export type CollectorAlertEventPayload = z.infer<typeof collectorAlertEventSchema>;
