// The one JSON shape of an alert change, shared by the MQTT alert topics and the webhook bodies
// (shared/mqtt/schemas.ts collectorAlertEventSchema; docs/mqtt.md §Alerts (collector)).

import { PAYLOAD_VERSION, type CollectorAlertEventPayload } from '../../shared/mqtt/schemas.ts';
import { checkOf, detailsOf } from './details.ts';
import type { AlertRecord } from '../storage/types.ts';
import type { AlertEvent } from './types.ts';

export type AlertView = CollectorAlertEventPayload['alert'];

/** The public shape of an alert: in events, webhook bodies and the HTTP API alike. */
export function alertView(a: AlertRecord): AlertView {
  const d = detailsOf(a);
  return {
    id: a.id,
    key: a.dedupKey,
    kind: a.kind,
    check: checkOf(a),
    severity: a.severity,
    state: a.state,
    deviceId: a.deviceId,
    subject: a.channel,
    message: a.message,
    openedMs: a.openedMs,
    lastSeenMs: a.lastSeenMs,
    occurrences: a.occurrences,
    acknowledgedMs: a.acknowledgedMs,
    acknowledgedBy: a.acknowledgedBy,
    resolvedMs: a.resolvedMs,
    details: typeof d.check === 'string' ? (a.details as AlertView['details']) : null,
  };
}

export function alertEventPayload(e: AlertEvent): CollectorAlertEventPayload {
  return { v: PAYLOAD_VERSION, eventId: e.eventId, event: e.type, tsMs: e.atMs, alert: alertView(e.alert) };
}
