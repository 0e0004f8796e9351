// The composition of alerting (docs/alerts.md): the channels CollectorConfig asks for, fanned out behind
// one notify(), and the alert manager that feeds them. collector/main.ts calls createAlerting once and
// passes `manager` to the monitor engine as its ObservationSink and to the alerts API.

import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { CollectorConfig } from '../config.ts';
import { createAlertmanagerChannel } from './alertmanager.ts';
import type { AlertRecord } from '../storage/types.ts';
import { AlertManager, type AlertStore } from './manager.ts';
import { createMqttChannel } from './mqtt-channel.ts';
import {
  noopDeliveryObserver,
  type AlertChannel,
  type AlertEvent,
  type DeliveryObserver,
  type PublishFn,
} from './types.ts';
import { createWebhookChannel } from './webhook.ts';

export type AlertingConfig = Pick<
  CollectorConfig,
  'alertClearAfter' | 'alertWebhooks' | 'alertWebhookSecret' | 'alertmanagerUrl' | 'alertMqtt'
>;

export interface AlertDeliveryOptions {
  readonly config: AlertingConfig;
  /** Required for MQTT delivery (config.alertMqtt); without it MQTT delivery is off, with a warning. */
  readonly publish?: PublishFn;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Delivery outcomes (AlertMetrics.observer from ./metrics.ts). */
  readonly observer?: DeliveryObserver;
  /** The collector's own base URL, for Alertmanager's generatorURL. */
  readonly collectorUrl?: string;
  /** The live alert by id, for Alertmanager's re-sends (createAlerting gives the manager's liveById). */
  readonly current?: (id: number) => AlertRecord | undefined;
}

export interface AlertDelivery {
  readonly channels: readonly AlertChannel[];
  /** Hands the event to every channel's queue; never blocks, never throws. */
  notify(event: AlertEvent): void;
  idle(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export function createAlertDelivery(o: AlertDeliveryOptions): AlertDelivery {
  const c = o.config;
  const observer = o.observer ?? noopDeliveryObserver;
  const base = { clock: o.clock, observer, ...(o.logger === undefined ? {} : { logger: o.logger }) };
  const channels: AlertChannel[] = [];
  if (c.alertMqtt) {
    if (o.publish === undefined) o.logger?.warn('alert MQTT delivery is on but there is no MQTT publisher');
    else channels.push(createMqttChannel({ ...base, publish: o.publish }));
  }
  if (c.alertWebhooks.length > 0)
    channels.push(createWebhookChannel({ ...base, urls: c.alertWebhooks, secret: c.alertWebhookSecret }));
  if (c.alertmanagerUrl !== '')
    channels.push(
      createAlertmanagerChannel({
        ...base,
        url: c.alertmanagerUrl,
        ...(o.collectorUrl === undefined ? {} : { collectorUrl: o.collectorUrl }),
        ...(o.current === undefined ? {} : { current: o.current }),
      }),
    );
  let closing: Promise<void> | undefined;
  return {
    channels,
    notify(e) {
      for (const ch of channels) {
        try {
          ch.notify(e);
        } catch (err) {
          o.logger?.error('alert channel failed to enqueue', { err, channel: ch.name });
        }
      }
    },
    async idle() {
      await Promise.all(channels.map((ch) => ch.idle()));
    },
    close() {
      closing ??= Promise.all(channels.map((ch) => ch.close())).then(() => undefined);
      return closing;
    },
  };
}

export interface AlertingOptions extends AlertDeliveryOptions {
  readonly store: AlertStore;
}

export interface Alerting {
  readonly manager: AlertManager;
  readonly delivery: AlertDelivery;
  close(): Promise<void>;
}

/** Delivery, then the manager (which reads the live alerts back from the store), then a resync. */
export function createAlerting(o: AlertingOptions): Alerting {
  // The channels are built before the manager (it resyncs them); a re-send, always later, reads it.
  const delivery = createAlertDelivery({ ...o, current: (id) => manager.liveById(id) });
  const manager = new AlertManager({
    store: o.store,
    clearAfter: o.config.alertClearAfter,
    notify: (e) => {
      delivery.notify(e);
    },
    ...(o.logger === undefined ? {} : { logger: o.logger }),
  });
  const live = manager.live();
  for (const ch of delivery.channels) ch.resync?.(live);
  return { manager, delivery, close: () => delivery.close() };
}
