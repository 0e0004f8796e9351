// The alert pipeline's own types (docs/alerts.md): what the alert manager stores as an alert's details,
// the change events it emits, and the delivery channels (MQTT, webhooks, Alertmanager) that carry them.
// The manager decides *when* something changed; a channel only decides *how* to carry it, behind its own
// bounded queue, so no receiver can slow the evaluation or ingest (issue #9 §6 "never blocking ingest").

import type { AlertRecord } from '../storage/types.ts';
import type { Observation } from '../monitor/types.ts';

/**
 * The full explanation of an alert, stored as its `details` JSON (every field: docs/alerts.md §Content):
 * the observation that last raised it, without its identity fields the alert row already has.
 */
export type AlertDetails = Pick<
  Observation,
  | 'kind'
  | 'check'
  | 'subject'
  | 'summary'
  | 'atMs'
  | 'sinceMs'
  | 'window'
  | 'evidence'
  | 'reference'
  | 'cause'
  | 'action'
>;

/**
 * What changed. Occurrences of a live alert are not events (they would page on every evaluation);
 * `escalated` is a rise in severity or a change of kind (re-diagnosed), which routing usually cares about.
 */
export type AlertEventType = 'opened' | 'escalated' | 'acknowledged' | 'resolved';
export const alertEventTypes = ['opened', 'escalated', 'acknowledged', 'resolved'] as const;

export interface AlertEvent {
  /** Unique per change, stable across retries: `<alert id>-<event>-<at ms>` (the webhook idempotency key). */
  readonly eventId: string;
  readonly type: AlertEventType;
  /** Collector time of the change, ms. */
  readonly atMs: number;
  /** The alert after the change. */
  readonly alert: AlertRecord;
}

export type AlertChannelName = 'mqtt' | 'webhook' | 'alertmanager';
export const alertChannelNames = ['mqtt', 'webhook', 'alertmanager'] as const;

/** Why a notification was given up. */
export type DropReason = 'queue_full' | 'attempts_exhausted' | 'rejected' | 'closed';
export const dropReasons = ['queue_full', 'attempts_exhausted', 'rejected', 'closed'] as const;

/** Told about every delivery outcome (collector/alerts/metrics.ts counts them). */
export interface DeliveryObserver {
  /** A notification reached the receiver (a 2xx, a PUBACK). */
  sent(channel: AlertChannelName): void;
  /** One attempt failed (it may be retried). */
  failed(channel: AlertChannelName): void;
  /** A notification was given up. */
  dropped(channel: AlertChannelName, reason: DropReason): void;
}

export const noopDeliveryObserver: DeliveryObserver = {
  sent: () => undefined,
  failed: () => undefined,
  dropped: () => undefined,
};

/** One way of carrying alert changes out. notify() only enqueues: it never blocks and never throws. */
export interface AlertChannel {
  readonly name: AlertChannelName;
  notify(event: AlertEvent): void;
  /**
   * The live alerts at start (AlertManager.live() after a restart), for channels whose receiver holds
   * state: Alertmanager must keep receiving them or it resolves them after its resolve_timeout; a broker
   * may have lost the retained MQTT messages.
   */
  resync?(live: readonly AlertRecord[]): void;
  /** Resolves once nothing is waiting or in flight (tests; a flush before shutdown). */
  idle(): Promise<void>;
  /** Idempotent: stops timers, waits (bounded) for what is in flight, drops and counts the rest. */
  close(): Promise<void>;
}

/** Publishes one MQTT message (collector/adapters/mqtt.ts Subscriber.publish). Rejects when it fails. */
export type PublishFn = (
  topic: string,
  payload: Uint8Array | string,
  options: { readonly qos: 0 | 1; readonly retain: boolean },
) => Promise<void>;
