// The retained device status (docs/mqtt.md §status): online on every (re)connect, offline on a clean
// shutdown, and the last will (offline, reason "lwt", msgSeq 0) that the broker publishes if we vanish.
//
// Status is published straight to the link, never through the outbox: it is retained, so a stale
// "online" or "offline" replayed from a backlog after a newer one would overwrite the truth on the broker.

import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { PAYLOAD_VERSION, type ModelRef, type StatusPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export interface StatusFacts {
  readonly model: ModelRef | null;
  readonly firmwareVersion: string | null;
  readonly bootId: number | null;
}

export interface StatusMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 1;
  readonly retain: true;
}

export interface StatusReporterOptions {
  readonly deviceId: string;
  readonly agentVersion: string;
  readonly sequence: MessageSequence;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

export class StatusReporter {
  readonly topic: string;
  readonly #o: StatusReporterOptions;
  #facts: StatusFacts = { model: null, firmwareVersion: null, bootId: null };

  constructor(options: StatusReporterOptions) {
    const t = buildTopic('status', options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    this.topic = t.value;
    this.#o = options;
  }

  /** Updates what the next status says (model swapped, new HELLO). */
  update(facts: Partial<StatusFacts>): void {
    this.#facts = { ...this.#facts, ...facts };
  }

  get facts(): StatusFacts {
    return this.#facts;
  }

  /** startup: first connection of this run; reconnect: every later one; update: model or firmware changed. */
  online(reason: 'startup' | 'reconnect' | 'update' = 'startup'): StatusMessage {
    return this.#build('online', reason, this.#o.sequence.next());
  }

  offline(): StatusMessage {
    return this.#build('offline', 'shutdown', this.#o.sequence.next());
  }

  /** The last will: msgSeq 0, outside the sequence (MQTT-3.1.2-8 fixes it at CONNECT time). */
  will(): StatusMessage {
    return this.#build('offline', 'lwt', 0);
  }

  #build(state: StatusPayload['state'], reason: StatusPayload['reason'], msgSeq: number): StatusMessage {
    const payload: StatusPayload = {
      v: PAYLOAD_VERSION,
      deviceId: this.#o.deviceId,
      runId: this.#o.sequence.runId,
      msgSeq,
      tsMs: Math.floor((this.#o.clock ?? systemClock).nowMs()),
      state,
      reason,
      model: this.#facts.model,
      firmwareVersion: this.#facts.firmwareVersion,
      agentVersion: this.#o.agentVersion,
      bootId: this.#facts.bootId,
    };
    const r = encodeJsonPayload('status', payload);
    // Every field comes from config or from validated inputs, so an invalid status is a bug.
    if (!r.ok) throw new EdgeloopError(r.code, r.message);
    return { topic: this.topic, payload: r.value, qos: 1, retain: true };
  }
}
