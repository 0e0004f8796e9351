// MQTT delivery (issue #9 §6; docs/mqtt.md §Alerts (collector)): each alert change is published at QoS 1
// on the alert's own topic (shared/mqtt/topics.ts collectorAlertTopic), retained while the alert is live so
// that a client subscribing late sees every open alert. A resolve publishes the resolved event (not
// retained: live subscribers see it) and then an empty retained message, which clears the topic.
//
// The publish function is injected (collector/adapters/mqtt.ts Subscriber.publish): it rejects when the
// collector is not connected, and the queue retries with backoff; MQTT.js's own offline queue would hold
// the messages without bound.

import type { BackoffOptions } from '../../shared/backoff.ts';
import { collectorAlertTopic, collectorAlertTopicSpec } from '../../shared/mqtt/topics.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { checkOf } from './details.ts';
import { alertEventPayload } from './payload.ts';
import { DeliveryQueue } from './queue.ts';
import type { AlertChannel, AlertEvent, DeliveryObserver, PublishFn } from './types.ts';

export interface MqttChannelOptions {
  readonly publish: PublishFn;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  readonly logger?: Logger;
  /** Attempts per change. Default 10 (a broker restart usually takes seconds). */
  readonly maxAttempts?: number;
  /** Changes waiting at most. Default 1000. */
  readonly capacity?: number;
  /** Default base 1 s, cap 30 s. */
  readonly backoff?: BackoffOptions;
}

export function alertTopicOf(e: AlertEvent): string {
  const a = e.alert;
  return collectorAlertTopic({ kind: a.kind, deviceId: a.deviceId, check: checkOf(a), subject: a.channel });
}

export function createMqttChannel(o: MqttChannelOptions): AlertChannel {
  const qos = collectorAlertTopicSpec.qos;
  const queue = new DeliveryQueue<AlertEvent>({
    channel: 'mqtt',
    target: 'mqtt',
    capacity: o.capacity ?? 1000,
    maxAttempts: o.maxAttempts ?? 10,
    backoff: { baseMs: 1000, capMs: 30_000, ...o.backoff },
    clock: o.clock,
    observer: o.observer,
    ...(o.logger === undefined ? {} : { logger: o.logger }),
    async send(e) {
      const topic = alertTopicOf(e);
      const body = JSON.stringify(alertEventPayload(e));
      if (e.type !== 'resolved') {
        await o.publish(topic, body, { qos, retain: true });
        return 'sent';
      }
      await o.publish(topic, body, { qos, retain: false });
      // A retry after this point publishes the resolved event again: QoS 1 is at-least-once anyway.
      await o.publish(topic, '', { qos, retain: true });
      return 'sent';
    },
  });
  return {
    name: 'mqtt',
    notify: (e) => {
      queue.push(e);
    },
    // After a restart the broker may have lost its retained messages (the embedded broker keeps them in
    // memory): publish each live alert again, as the event that gave it its state and with that event's
    // id (AlertManager builds ids as `<id>-<type>-<at ms>`), so a subscriber that saw it drops it.
    resync(live) {
      for (const alert of live) {
        const ackedMs = alert.state === 'acknowledged' ? alert.acknowledgedMs : null;
        const type = ackedMs === null ? 'opened' : 'acknowledged';
        const atMs = ackedMs ?? alert.openedMs;
        queue.push({ eventId: `${alert.id}-${type}-${atMs}`, type, atMs, alert });
      }
    },
    idle: () => queue.idle(),
    close: () => queue.close(),
  };
}
