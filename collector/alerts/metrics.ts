// Alert metrics (docs/alerts.md §Metrics), registered on the collector's own Registry by
// collector/api/metrics.ts: live alerts by kind, severity and state (pulled at scrape time from the alert
// manager), and delivery outcomes by channel (pushed by the queues through DeliveryObserver).

import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertRecord } from '../storage/types.ts';
import { alertKinds, severities } from './details.ts';
import { alertChannelNames, dropReasons, type DeliveryObserver } from './types.ts';

export interface AlertMetricSource {
  /** The live alerts (AlertManager.live). */
  readonly live: () => readonly Pick<AlertRecord, 'kind' | 'severity' | 'state'>[];
}

export function registerAlertMetrics(registry: Registry, source?: AlertMetricSource): DeliveryObserver {
  if (source !== undefined) {
    new Gauge({
      name: 'edgeloop_collector_alerts_open',
      help: 'Live alerts (open or acknowledged, not yet resolved) by kind, severity and state.',
      labelNames: ['kind', 'severity', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const kind of alertKinds)
          for (const severity of severities)
            for (const state of ['open', 'acknowledged']) this.set({ kind, severity, state }, 0);
        for (const a of source.live()) this.inc({ kind: a.kind, severity: a.severity, state: a.state });
      },
    });
  }
  const sent = new Counter({
    name: 'edgeloop_collector_alert_notifications_sent_total',
    help: 'Alert notifications the receiver accepted (2xx, PUBACK), by channel.',
    labelNames: ['channel'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'edgeloop_collector_alert_notification_attempts_failed_total',
    help: 'Alert notification attempts that failed (network error, timeout, non-2xx); most are retried. By channel.',
    labelNames: ['channel'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'edgeloop_collector_alert_notifications_dropped_total',
    help: 'Alert notifications given up, by channel and reason (queue_full, attempts_exhausted, rejected, closed).',
    labelNames: ['channel', 'reason'],
    registers: [registry],
  });
  for (const channel of alertChannelNames) {
    sent.inc({ channel }, 0);
    failed.inc({ channel }, 0);
    for (const reason of dropReasons) dropped.inc({ channel, reason }, 0);
  }
  return {
    sent: (channel) => {
      sent.inc({ channel });
    },
    failed: (channel) => {
      failed.inc({ channel });
    },
    dropped: (channel, reason) => {
      dropped.inc({ channel, reason });
    },
  };
}
