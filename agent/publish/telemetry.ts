// The agent's per-window telemetry message (docs/mqtt.md §telemetry): the payload is built and validated by
// the shared builder (shared/mqtt/telemetry.ts, also used by the fleet simulator), and wrapped here in an
// outbox message. A builder refusal is a failed Result, counted by the caller, not a counted drop on the
// far side.

import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { buildTelemetryPayload, type TelemetryInput } from '../../shared/mqtt/telemetry.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import type { OutboxMessage } from '../outbox/types.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export type {
  FeatureSummary,
  Prediction,
  TelemetryCounters,
  TelemetryInput,
} from '../../shared/mqtt/telemetry.ts';

export interface TelemetryBuilderOptions {
  readonly deviceId: string;
  readonly sequence: MessageSequence;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
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
    const seq = this.#o.sequence;
    const r = buildTelemetryPayload(input, {
      deviceId: this.#o.deviceId,
      runId: seq.runId,
      tsMs: (this.#o.clock ?? systemClock).nowMs(),
      nextSeq: () => seq.next(),
    });
    if (!r.ok) this.#invalid++;
    return r;
  }

  /** The outbox message for one window (class telemetry, QoS 1), or the reason it cannot be built. */
  build(input: TelemetryInput): Result<OutboxMessage> {
    const p = this.payload(input);
    if (!p.ok) return p;
    const bytes = encodeJsonPayload('telemetry', p.value);
    if (!bytes.ok) {
      this.#invalid++;
      return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `telemetry not published: ${bytes.message}`);
    }
    return ok({
      topic: this.topic,
      payload: bytes.value,
      qos: topicSpecs.telemetry.qos,
      retain: topicSpecs.telemetry.retain,
      class: 'telemetry',
      createdAtMs: p.value.tsMs,
    });
  }
}
