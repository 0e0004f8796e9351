// Builds the per-window telemetry message (docs/mqtt.md §telemetry): feature summary, prediction, model,
// integrity flags and ingest counters. The payload is validated against the shared schema before it is
// encoded (encodeJsonPayload), so the publisher never sends what a collector would refuse: a builder bug
// is a failed Result here, counted by the caller, not a counted drop on the far side.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { PAYLOAD_VERSION, type TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import type { Window } from '../../shared/samples.ts';
import type { OutboxMessage } from '../outbox/types.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

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

/** Totals since the agent started (docs/mqtt.md §telemetry `counters`). */
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

export interface TelemetryBuilderOptions {
  readonly deviceId: string;
  readonly sequence: MessageSequence;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

// Softmax output in float32 may land a hair outside [0, 1]; more than this is a model bug, not rounding.
const PROBABILITY_SLACK = 1e-4;

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function count(x: number): number {
  return Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
}

export class TelemetryBuilder {
  readonly topic: string;
  readonly #o: TelemetryBuilderOptions;
  #invalid = 0;

  constructor(options: TelemetryBuilderOptions) {
    const t = buildTopic('telemetry', options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    this.topic = t.value;
    this.#o = options;
  }

  /** Payloads refused by the schema check (each a bug upstream; never published). */
  get invalidTotal(): number {
    return this.#invalid;
  }

  /** The payload object, validated; takes a msgSeq only when it is valid. */
  payload(input: TelemetryInput): Result<TelemetryPayload> {
    const prediction = this.#prediction(input.prediction ?? null);
    if (!prediction.ok) return this.#refuse(prediction.message);
    const w = input.window;
    const features: Record<string, number | null> = {};
    const f = input.features ?? null;
    if (f !== null) {
      if (f.names.length !== f.values.length) {
        return this.#refuse(`${f.names.length} feature names for ${f.values.length} values`);
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
      deviceId: this.#o.deviceId,
      runId: this.#o.sequence.runId,
      msgSeq: 0, // assigned below, once the payload is known to be valid
      tsMs: Math.floor((this.#o.clock ?? systemClock).nowMs()),
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
    // Validate with a placeholder msgSeq of 1 so a refused payload does not burn a sequence number
    // (a hole the receiver would count as loss).
    const check = encodeJsonPayload('telemetry', { ...payload, msgSeq: 1 });
    if (!check.ok) return this.#refuse(check.message);
    return ok({ ...payload, msgSeq: this.#o.sequence.next() });
  }

  /** The outbox message for one window (class telemetry, QoS 1), or the reason it cannot be built. */
  build(input: TelemetryInput): Result<OutboxMessage> {
    const p = this.payload(input);
    if (!p.ok) return p;
    const bytes = encodeJsonPayload('telemetry', p.value);
    if (!bytes.ok) return this.#refuse(bytes.message);
    return ok({
      topic: this.topic,
      payload: bytes.value,
      qos: topicSpecs.telemetry.qos,
      retain: topicSpecs.telemetry.retain,
      class: 'telemetry',
      createdAtMs: p.value.tsMs,
    });
  }

  #prediction(p: Prediction | null): Result<TelemetryPayload['prediction']> {
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

  #refuse(detail: string): Result<never> {
    this.#invalid++;
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `telemetry not published: ${detail}`);
  }
}
