// The ingest path (docs/collector.md §Ingest): every MQTT message the subscriber receives goes through
//   size check → decodeMessage (shared/mqtt/codec.ts) → SequenceTracker (in-memory duplicates) → queue,
// and the queue is written to the store in batches, one transaction each (TelemetryStore.writeBatch), when
// it holds batchMaxMessages or batchMaxDelayMs after its first message, whichever comes first.
//
// A refused message is counted by reason and dead-lettered (./dead-letters.ts), never thrown. The store
// deduplicates by (deviceId, runId, msgSeq) as well, so a redelivery after a collector restart (when the
// trackers are empty again) is still written once; the trackers only spare the store the common case.
//
// The queue is bounded by batchMaxMessages: reaching it writes the batch at once, synchronously, which
// blocks the event loop for one transaction and so also stops reading the socket (backpressure).
// After stop() nothing more is accepted: offer() returns a promise that never settles, so the subscriber
// never acknowledges those messages and the broker delivers them again to our session after a restart.

import type { ErrorCode } from '../../shared/errors.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import { PAYLOAD_VERSION } from '../../shared/mqtt/schemas.ts';
import { SequenceTracker, streamKey } from '../../shared/mqtt/sequence.ts';
import type { IncomingMessage, TelemetryStore, WriteBatchResult } from '../storage/types.ts';
import type { DeadLetterReason, DeadLetterRing } from './dead-letters.ts';

/** What ingest reports; collector/api/metrics.ts implements it with prom-client. */
export interface IngestObserver {
  received(kind: string): void;
  deadLettered(reason: DeadLetterReason): void;
  duplicates(n: number): void;
  batchWritten(result: WriteBatchResult, messages: number, seconds: number): void;
  batchFailed(err: unknown): void;
}

export interface IngestOptions {
  readonly store: TelemetryStore;
  readonly deadLetters: DeadLetterRing;
  /** Larger payloads are dead-lettered as oversized before any parsing. */
  readonly maxMessageBytes: number;
  readonly batchMaxMessages: number;
  readonly batchMaxDelayMs: number;
  /** Most (deviceId, runId) streams tracked in memory; the oldest is forgotten past it. */
  readonly maxStreams?: number;
  readonly nowMs?: () => number;
  readonly observer?: IngestObserver;
  /** Told after every batch write with the batch's number (see ackTag()). */
  readonly onCommitted?: (batch: number) => void;
  /** Given the messages of every batch written (the monitors' feed), after the commit; not on a failure. */
  readonly onWritten?: (messages: readonly IncomingMessage[]) => void;
}

const reasonByCode: Partial<Record<ErrorCode, DeadLetterReason>> = {
  EDGELOOP_ERR_MQTT_PAYLOAD: 'malformed',
  EDGELOOP_ERR_MQTT_DEVICE_MISMATCH: 'wrong_device',
  EDGELOOP_ERR_MQTT_TOPIC: 'unknown_topic',
  EDGELOOP_ERR_MQTT_DEVICE_ID: 'unknown_topic',
};

/** On a schema failure only: does the payload declare a version we do not know? */
function unknownVersion(payload: Uint8Array): unknown {
  try {
    const v: unknown = (JSON.parse(Buffer.from(payload).toString('utf8')) as { v?: unknown }).v;
    return v !== undefined && v !== PAYLOAD_VERSION ? v : undefined;
  } catch {
    return undefined;
  }
}

const noop = (): void => undefined;
const silentObserver: IngestObserver = {
  received: noop,
  deadLettered: noop,
  duplicates: noop,
  batchWritten: noop,
  batchFailed: noop,
};

export class Ingest {
  readonly #o: IngestOptions;
  readonly #observer: IngestObserver;
  readonly #now: () => number;
  readonly #trackers = new Map<string, SequenceTracker>();
  #queue: IncomingMessage[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  // Batch numbers: the queue fills batch #open; batches up to #committed are written.
  #open = 1;
  #committed = 0;
  #lastTag = 0;

  constructor(options: IngestOptions) {
    this.#o = options;
    this.#observer = options.observer ?? silentObserver;
    this.#now = options.nowMs ?? Date.now;
  }

  /** Messages waiting for the next batch. */
  queueDepth(): number {
    return this.#queue.length;
  }

  /**
   * The batch whose write makes the last message given to accept() durable: the open batch when it was
   * queued, the last committed one when it needs no write (dead-lettered, duplicate). The subscriber holds
   * that message's PUBACK until onCommitted reports this batch.
   */
  ackTag(): number {
    return this.#lastTag;
  }

  /** For the subscriber: undefined = acknowledge now; a promise = hold the acknowledgement. */
  offer(topic: string, payload: Uint8Array): Promise<void> | undefined {
    if (this.#stopped) return new Promise<void>(noop);
    this.accept(topic, payload, this.#now());
    return undefined;
  }

  /** Validates one message and queues it, or dead-letters it. Returns what happened to it. */
  accept(topic: string, payload: Uint8Array, receivedMs: number): 'queued' | 'duplicate' | DeadLetterReason {
    this.#lastTag = this.#committed;
    if (payload.byteLength > this.#o.maxMessageBytes) {
      return this.#deadLetter(
        topic,
        payload,
        receivedMs,
        'oversized',
        'EDGELOOP_ERR_MQTT_TOO_LARGE',
        `${payload.byteLength} bytes (at most ${this.#o.maxMessageBytes})`,
      );
    }
    const r = decodeMessage(topic, payload);
    if (!r.ok) {
      if (r.code === 'EDGELOOP_ERR_MQTT_PAYLOAD') {
        const v = unknownVersion(payload);
        if (v !== undefined)
          return this.#deadLetter(
            topic,
            payload,
            receivedMs,
            'unknown_version',
            'EDGELOOP_ERR_MQTT_VERSION',
            `payload version ${JSON.stringify(v)} (this collector knows ${PAYLOAD_VERSION})`,
          );
      }
      return this.#deadLetter(
        topic,
        payload,
        receivedMs,
        reasonByCode[r.code] ?? 'malformed',
        r.code,
        r.message,
      );
    }
    const message = r.value;
    this.#observer.received(message.kind);
    const { runId, msgSeq } = message.payload;
    // 'stale' (older than the tracker remembers) goes on to the store, whose dedup decides.
    if (this.#tracker(message.deviceId, runId).accept(msgSeq) === 'duplicate') {
      this.#observer.duplicates(1);
      return 'duplicate';
    }
    this.#queue.push({ message, receivedMs });
    this.#lastTag = this.#open;
    if (this.#queue.length >= this.#o.batchMaxMessages) this.flush();
    else
      this.#timer ??= setTimeout(() => {
        this.flush();
      }, this.#o.batchMaxDelayMs);
    return 'queued';
  }

  /** Writes the queued messages in one transaction. Synchronous: the store is. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    const t0 = process.hrtime.bigint();
    let result: WriteBatchResult | undefined;
    try {
      result = this.#o.store.writeBatch(batch);
    } catch (err) {
      // Disk full, database locked past its timeout: counted and reported; the batch is given up (its
      // PUBACKs are released below, so the broker does not hold them forever) and ingest goes on.
      this.#observer.batchFailed(err);
    }
    this.#committed = this.#open++;
    if (result !== undefined) {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      this.#observer.batchWritten(result, batch.length, seconds);
      if (result.duplicates > 0) this.#observer.duplicates(result.duplicates);
    }
    this.#o.onCommitted?.(this.#committed);
    if (result !== undefined) this.#o.onWritten?.(batch);
  }

  /** Stops accepting (see the header), then writes the batch in hand. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.flush();
  }

  /**
   * Per device since this collector started: distinct messages received and messages missing from their
   * run's sequence (gaps not filled yet, or given up), summed over the device's runs.
   */
  sequenceStats(): Map<string, { received: number; missing: number }> {
    const out = new Map<string, { received: number; missing: number }>();
    for (const [key, t] of this.#trackers) {
      const deviceId = key.slice(0, key.indexOf('\u0000'));
      const s = out.get(deviceId) ?? { received: 0, missing: 0 };
      s.received += t.received;
      s.missing += t.missing;
      out.set(deviceId, s);
    }
    return out;
  }

  #tracker(deviceId: string, runId: number): SequenceTracker {
    const key = streamKey(deviceId, runId);
    let t = this.#trackers.get(key);
    if (t === undefined) {
      t = new SequenceTracker();
      this.#trackers.set(key, t);
      // Map keeps insertion order: the first key is the oldest stream.
      if (this.#trackers.size > (this.#o.maxStreams ?? 100_000)) {
        const oldest = this.#trackers.keys().next().value;
        if (oldest !== undefined) this.#trackers.delete(oldest);
      }
    }
    return t;
  }

  #deadLetter(
    topic: string,
    payload: Uint8Array,
    receivedMs: number,
    reason: DeadLetterReason,
    code: ErrorCode,
    message: string,
  ): DeadLetterReason {
    this.#o.deadLetters.add(
      { receivedMs, topic, reason, code, message, payloadBytes: payload.byteLength },
      payload,
    );
    this.#observer.deadLettered(reason);
    return reason;
  }
}
