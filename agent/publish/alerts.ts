// Edge alerts (docs/mqtt.md §alert): a few events worth a person's attention, raised by the agent itself so
// a site without the collector's dashboards still hears of them. The agent raises exactly these (the doc
// lists them, with severity and source):
//
//   integrity  warning   a channel entered `fail` (at most once per channel per holdoff, see integrity-events.ts)
//   model      warning   a model update ended FAILED, or was ROLLED_BACK after its health window
//
// Alerts go through the outbox in their own class, `alert`, which is evicted last (docs/outbox.md), so an
// alert raised during an outage is the last thing a full outbox gives up.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { PAYLOAD_VERSION, type AlertPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import type { EnqueueReceipt, Outbox, OutboxMessage } from '../outbox/types.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export interface AlertInput {
  readonly severity: AlertPayload['severity'];
  readonly source: 'integrity' | 'model';
  readonly message: string;
  readonly channel?: string;
  readonly value?: number;
  readonly threshold?: number;
  /** An EDGELOOP_ERR_* code (checked by the alert schema). */
  readonly code?: string;
}

export interface AlertBuilderOptions {
  readonly deviceId: string;
  readonly sequence: MessageSequence;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

export class AlertBuilder {
  readonly topic: string;
  readonly #o: AlertBuilderOptions;

  constructor(options: AlertBuilderOptions) {
    const t = buildTopic('alert', options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    this.topic = t.value;
    this.#o = options;
  }

  /** The outbox message (class alert, QoS 1), or why the payload is invalid (a bug; takes no msgSeq). */
  build(a: AlertInput): Result<OutboxMessage> {
    const base: AlertPayload = {
      v: PAYLOAD_VERSION,
      deviceId: this.#o.deviceId,
      runId: this.#o.sequence.runId,
      msgSeq: 1,
      tsMs: Math.floor((this.#o.clock ?? systemClock).nowMs()),
      alertId: 'check',
      severity: a.severity,
      source: a.source,
      message: a.message,
      ...(a.channel === undefined ? {} : { channel: a.channel }),
      ...(a.value !== undefined && Number.isFinite(a.value) ? { value: a.value } : {}),
      ...(a.threshold !== undefined && Number.isFinite(a.threshold) ? { threshold: a.threshold } : {}),
      ...(a.code === undefined ? {} : { code: a.code }),
    };
    // Checked with a placeholder msgSeq first, so a refused payload burns no sequence number.
    const check = encodeJsonPayload('alert', base);
    if (!check.ok) return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `alert not published: ${check.message}`);
    const msgSeq = this.#o.sequence.next();
    // Stable across redelivery and unique per device: (runId, msgSeq) already is.
    const bytes = encodeJsonPayload('alert', {
      ...base,
      msgSeq,
      alertId: `${this.#o.sequence.runId}-${msgSeq}`,
    });
    if (!bytes.ok) return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `alert not published: ${bytes.message}`);
    return ok({
      topic: this.topic,
      payload: bytes.value,
      qos: topicSpecs.alert.qos,
      retain: topicSpecs.alert.retain,
      class: 'alert',
      createdAtMs: base.tsMs,
    });
  }
}

/** Raises alerts outside a window's batch (model outcomes): builds, enqueues, wakes the publisher. */
export function raiseAlert(
  o: { readonly builder: AlertBuilder; readonly outbox: Outbox; readonly notify?: () => void },
  a: AlertInput,
): Result<EnqueueReceipt> {
  const m = o.builder.build(a);
  if (!m.ok) return m;
  const r = o.outbox.enqueue(m.value);
  if (r.ok) o.notify?.();
  return r;
}
