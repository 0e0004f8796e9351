// Where a finished window becomes outbox messages: its telemetry, the integrity events (and fail alerts) of
// channels whose status it changed, and, when raw capture selects it, its raw sample blocks, enqueued as one
// batch (one SQLite transaction, docs/outbox.md) and handed to the publisher.
// A payload that fails the shared schema is counted and never enqueued (docs/agent.md §Publishing).

import { ok, type Result } from '../../shared/errors.ts';
import type { Window } from '../../shared/samples.ts';
import type { EnqueueReceipt, Outbox, OutboxMessage } from '../outbox/types.ts';
import type { IntegrityEvents } from './integrity-events.ts';
import type { RawCapture } from './raw-capture.ts';
import type { FeatureSummary, Prediction, TelemetryBuilder, TelemetryCounters } from './telemetry.ts';

export interface WindowSinkOptions {
  readonly outbox: Outbox;
  readonly telemetry: TelemetryBuilder;
  readonly raw?: RawCapture;
  /** Integrity events on status changes (docs/mqtt.md §integrity); none when absent. */
  readonly integrity?: IntegrityEvents;
  /** Called after every successful enqueue (Publisher.notify). */
  readonly notify?: () => void;
}

export interface WindowSinkStats {
  readonly windows: number;
  readonly telemetryEnqueued: number;
  readonly rawEnqueued: number;
  /** Telemetry refused by the schema check: never published. */
  readonly invalidPayloads: number;
  /** Enqueue calls that failed (storage error, closed outbox); the outbox counts the messages as drops. */
  readonly enqueueFailures: number;
}

export class WindowSink {
  readonly #o: WindowSinkOptions;
  #windows = 0;
  #telemetry = 0;
  #raw = 0;
  #invalid = 0;
  #enqueueFailures = 0;

  constructor(options: WindowSinkOptions) {
    this.#o = options;
  }

  /** Builds and enqueues one window's messages. Fails only when nothing could be enqueued. */
  push(input: {
    readonly window: Window;
    readonly features?: FeatureSummary | null;
    readonly prediction?: Prediction | null;
    readonly counters: TelemetryCounters;
  }): Result<EnqueueReceipt> {
    this.#windows++;
    const batch: OutboxMessage[] = [];
    const t = this.#o.telemetry.build(input);
    if (t.ok) batch.push(t.value);
    else this.#invalid++;
    const events = this.#o.integrity?.observe(input.window) ?? [];
    batch.push(...events);
    const raw = this.#o.raw?.capture(input.window) ?? [];
    batch.push(...raw);
    if (batch.length === 0) return t.ok ? ok({ accepted: 0, refused: 0 }) : t;
    const r = this.#o.outbox.enqueue(batch);
    if (!r.ok) {
      this.#enqueueFailures++;
      return r;
    }
    if (t.ok) this.#telemetry++;
    this.#raw += raw.length;
    this.#o.notify?.();
    return t.ok ? r : t;
  }

  stats(): WindowSinkStats {
    return {
      windows: this.#windows,
      telemetryEnqueued: this.#telemetry,
      rawEnqueued: this.#raw,
      invalidPayloads: this.#invalid,
      enqueueFailures: this.#enqueueFailures,
    };
  }
}
