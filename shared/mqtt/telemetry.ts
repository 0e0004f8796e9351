// The per-window telemetry payload (docs/mqtt.md §telemetry), built from a window, its feature vector, an
// optional prediction and the ingest counters. Pure: both the agent (agent/publish/telemetry.ts, which
// wraps it in an outbox message) and the fleet simulator (firmware-sim/fleet.ts) build their payloads
// here, so a simulated device sends exactly what a real agent would.
//
// The payload is validated against the shared schema before a msgSeq is taken, so a sender never
// publishes what a collector would refuse, and a refused payload does not burn a sequence number (a hole
// the receiver would count as loss).

import { fail, ok, type Result } from '../errors.ts';
import type { Window } from '../samples.ts';
import { encodeJsonPayload } from './codec.ts';
import { PAYLOAD_VERSION, type TelemetryPayload } from './schemas.ts';

/** What inference produced for one window (the inference module's output, narrowed to what we send). */
export interface Prediction {
  /** Label → probability in 0..1. */
  readonly probabilities: Readonly<Record<string, number>>;
  readonly label: string;
  readonly model: { readonly name: string; readonly version: string };
  readonly latencyMs: number;
}

/** The feature vector of the window, as the shared feature pipeline computed it. */
export interface FeatureSummary {
  /** Pipeline id and version, e.g. "edgeloop-features/v1". */
  readonly pipeline: string;
  readonly names: readonly string[];
  readonly values: ArrayLike<number>;
  /** 1 where computed from data, 0 where imputed; imputed features are sent as null. */
  readonly valid?: ArrayLike<number>;
}

/** Totals since the sender started (docs/mqtt.md §telemetry `counters`). */
export interface TelemetryCounters {
  readonly framesDecoded: number;
  readonly framesInvalid: number;
  readonly samples: number;
  readonly gaps: number;
  readonly samplesMissing: number;
  readonly windows: number;
}

export interface TelemetryInput {
  readonly window: Window;
  readonly features?: FeatureSummary | null;
  readonly prediction?: Prediction | null;
  readonly counters: TelemetryCounters;
}

/** Who sends, and when: the envelope fields that do not come from the window. */
export interface TelemetryEnvelope {
  readonly deviceId: string;
  readonly runId: number;
  /** Sender wall clock, ms since the Unix epoch. */
  readonly tsMs: number;
  /** Hands out the msgSeq; called only once the payload is known to be valid. */
  readonly nextSeq: () => number;
}

// Softmax output in float32 may land a hair outside [0, 1]; more than this is a model bug, not rounding.
const PROBABILITY_SLACK = 1e-4;

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function count(x: number): number {
  return Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
}

function predictionPart(p: Prediction | null): Result<TelemetryPayload['prediction']> {
  if (p === null) return ok(null);
  if (!(p.latencyMs >= 0) || !Number.isFinite(p.latencyMs)) {
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `prediction latency ${p.latencyMs}`);
  }
  const probabilities: Record<string, number> = {};
  for (const [label, v] of Object.entries(p.probabilities)) {
    if (!Number.isFinite(v) || v < -PROBABILITY_SLACK || v > 1 + PROBABILITY_SLACK) {
      return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `probability of ${label} is ${v}`);
    }
    probabilities[label] = Math.min(1, Math.max(0, v));
  }
  return ok({ label: p.label, probabilities, latencyMs: p.latencyMs });
}

/**
 * The validated telemetry payload for one window, or EDGELOOP_ERR_MQTT_PAYLOAD with the reason it cannot
 * be sent (a bug upstream: the caller counts it). Takes a msgSeq from the envelope only on success.
 */
export function buildTelemetryPayload(
  input: TelemetryInput,
  env: TelemetryEnvelope,
): Result<TelemetryPayload> {
  const refuse = (detail: string): Result<never> =>
    fail('EDGELOOP_ERR_MQTT_PAYLOAD', `telemetry not published: ${detail}`);
  const prediction = predictionPart(input.prediction ?? null);
  if (!prediction.ok) return refuse(prediction.message);
  const w = input.window;
  const features: Record<string, number | null> = {};
  const f = input.features ?? null;
  if (f !== null) {
    if (f.names.length !== f.values.length) {
      return refuse(`${f.names.length} feature names for ${f.values.length} values`);
    }
    for (let i = 0; i < f.names.length; i++) {
      const valid = f.valid === undefined || f.valid[i] !== 0;
      features[f.names[i] as string] = valid ? finiteOrNull(f.values[i] as number) : null;
    }
  }
  const c = input.counters;
  const p = input.prediction ?? null;
  const payload: TelemetryPayload = {
    v: PAYLOAD_VERSION,
    deviceId: env.deviceId,
    runId: env.runId,
    msgSeq: 0, // assigned below, once the payload is known to be valid
    tsMs: Math.floor(env.tsMs),
    bootId: w.bootId >>> 0,
    window: { index: count(w.index), startUs: w.startUs, endUs: w.endUs },
    featurePipeline: f === null ? null : f.pipeline,
    features,
    prediction: prediction.value,
    model: p === null ? null : { name: p.model.name, version: p.model.version },
    integrity: {
      status: w.integrity.status,
      channels: { ...w.integrity.channels },
      flags: w.integrity.flags.map((fl) => ({
        channel: fl.channel,
        check: fl.check,
        status: fl.status,
        reason: fl.reason,
        ...(fl.value !== undefined && Number.isFinite(fl.value) ? { value: fl.value } : {}),
        ...(fl.threshold !== undefined && Number.isFinite(fl.threshold) ? { threshold: fl.threshold } : {}),
      })),
    },
    counters: {
      framesDecoded: count(c.framesDecoded),
      framesInvalid: count(c.framesInvalid),
      samples: count(c.samples),
      gaps: count(c.gaps),
      samplesMissing: count(c.samplesMissing),
      windows: count(c.windows),
    },
  };
  // Validate with a placeholder msgSeq of 1 so a refused payload does not burn a sequence number.
  const check = encodeJsonPayload('telemetry', { ...payload, msgSeq: 1 });
  if (!check.ok) return refuse(check.message);
  return ok({ ...payload, msgSeq: env.nextSeq() });
}
