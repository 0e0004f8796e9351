// Prometheus Alertmanager delivery (issue #9 §6; docs/alerts.md §Alertmanager): the collector posts to
// `<alertmanagerUrl>/api/v2/alerts` as Prometheus does (Alertmanager's v2 OpenAPI, postableAlerts: an array
// of { labels, annotations, startsAt, endsAt, generatorURL }):
// - labels identify and route an alert (alertname per kind, severity, kind, check, device, subject, cause);
//   everything explanatory goes in annotations, because changing a label makes another alert;
// - firing alerts are sent again every resendMs with endsAt = now + 4 × resendMs (Prometheus' own rule),
//   so Alertmanager keeps them while we are up and resolves them by itself if the collector dies;
// - a resolve sends endsAt = resolve time; an escalation ends the old severity's label set and starts the
//   new one.
// One bounded queue of batches; retries as every channel (./queue.ts). Acknowledging is ours, not
// Alertmanager's (which has silences): an acknowledged alert keeps firing with `acknowledged_by` annotated.

import type { BackoffOptions } from '../../shared/backoff.ts';
import type { Clock, ClockTimer } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { AlertRecord } from '../storage/types.ts';
import type { AlertKind } from '../monitor/types.ts';
import { checkOf, detailsOf } from './details.ts';
import { DeliveryQueue, type SendOutcome } from './queue.ts';
import type { AlertChannel, AlertEvent, DeliveryObserver } from './types.ts';

/** Alertmanager v2 `postableAlert`. */
export interface PostableAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

export interface AlertmanagerChannelOptions {
  /** Base URL, e.g. http://alertmanager:9093 (CollectorConfig.alertmanagerUrl). */
  readonly url: string;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  readonly logger?: Logger;
  /** Re-send period of firing alerts, ms. Default 60 000 (Prometheus' resend_delay is 1 m). */
  readonly resendMs?: number;
  /** Collector base URL for generatorURL (`<it>/api/v1/alerts/<id>`); omitted when absent. */
  readonly collectorUrl?: string;
  /** Per request, ms. Default 10 000. */
  readonly timeoutMs?: number;
  /** Attempts per batch. Default 5 (the periodic re-send covers the rest). */
  readonly maxAttempts?: number;
  /** Batches waiting at most. Default 100. */
  readonly capacity?: number;
  readonly backoff?: BackoffOptions;
  /**
   * The alert as it is now (AlertManager.liveById), read at each re-send: occurrences, the message and the
   * evidence move on every evaluation, but only changes of state are events. Without it a re-send repeats
   * the annotations of the last event (occurrences 1 for ever). Labels stay those of the last event, so
   * the alert's identity in Alertmanager does not change between events.
   */
  readonly current?: (id: number) => AlertRecord | undefined;
}

// Every kind has its name: a new kind that is not added here does not compile.
const alertNames: Readonly<Record<AlertKind, string>> = {
  integrity: 'EdgeloopIntegrity',
  drift: 'EdgeloopDrift',
  environment: 'EdgeloopEnvironment',
  condition: 'EdgeloopCondition',
  model_update: 'EdgeloopModelUpdate',
  performance: 'EdgeloopPerformance',
};

/** Routing labels of an alert (docs/alerts.md §Alertmanager). */
export function alertLabels(a: AlertRecord): Record<string, string> {
  const d = detailsOf(a);
  const labels: Record<string, string> = {
    // A stored kind this version does not know (a newer collector wrote it) still gets a name.
    alertname: (alertNames as Readonly<Record<string, string | undefined>>)[a.kind] ?? 'EdgeloopAlert',
    severity: a.severity,
    kind: a.kind,
    check: checkOf(a),
    device: a.deviceId ?? '_fleet',
  };
  if (a.channel !== null) labels.subject = a.channel;
  if (typeof d.cause === 'string') labels.cause = d.cause;
  return labels;
}

function sameLabels(x: Readonly<Record<string, string>>, y: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k]);
}

const fmt = (v: number | null | undefined): string =>
  v === null || v === undefined ? 'n/a' : String(Number(v.toPrecision(4)));

/** The explanation, as annotations (strings only). */
export function alertAnnotations(a: AlertRecord): Record<string, string> {
  const d = detailsOf(a);
  const out: Record<string, string> = {
    summary: a.message,
    alert_id: String(a.id),
    occurrences: String(a.occurrences),
  };
  const e = d.evidence?.[0];
  // Evidence without a statistic (a status message: `offline`, `shutdown`) would read "statistic n/a vs
  // threshold n/a (no origin)"; the summary already says what it is.
  if (e !== undefined && (e.statistic != null || e.threshold != null)) {
    const effect = [
      e.effectSigma == null ? '' : `${fmt(e.effectSigma)}σ`,
      e.effectPhysical == null ? '' : `${fmt(e.effectPhysical)}${e.unit == null ? '' : ` ${e.unit}`}`,
    ].filter((s) => s !== '');
    out.description =
      `${e.method}: statistic ${fmt(e.statistic)} vs threshold ${fmt(e.threshold)}` +
      ` (${e.thresholdOrigin ?? 'no origin'})${effect.length > 0 ? `, effect ${effect.join(' / ')}` : ''}`;
  }
  if (d.action) out.action = `${d.action.kind}${d.action.automatic ? ' (automatic)' : ''}`;
  if (typeof d.sinceMs === 'number') out.since = new Date(d.sinceMs).toISOString();
  if (d.window)
    out.window = `${new Date(d.window.fromMs).toISOString()}/${new Date(d.window.toMs).toISOString()}`;
  if (d.reference) {
    const m = d.reference.model;
    out.reference = `${d.reference.basis}${m === null ? '' : ` ${m.name}@${m.version}`}`;
  }
  if (a.acknowledgedBy !== null) out.acknowledged_by = a.acknowledgedBy;
  return out;
}

interface Item {
  readonly alert: AlertRecord;
  /** Annotations from this newer record of the same alert (a re-send); labels stay the alert's. */
  readonly latest?: AlertRecord;
  /** null: firing (endsAt computed at send time). */
  readonly endsAtMs: number | null;
}

export function createAlertmanagerChannel(o: AlertmanagerChannelOptions): AlertChannel {
  const endpoint = `${o.url.replace(/\/+$/, '')}/api/v2/alerts`;
  const resendMs = o.resendMs ?? 60_000;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const firing = new Map<number, AlertRecord>();
  const postable = (i: Item, nowMs: number): PostableAlert => ({
    labels: alertLabels(i.alert),
    annotations: alertAnnotations(i.latest ?? i.alert),
    startsAt: new Date(i.alert.openedMs).toISOString(),
    endsAt: new Date(i.endsAtMs ?? nowMs + 4 * resendMs).toISOString(),
    ...(o.collectorUrl === undefined
      ? {}
      : { generatorURL: `${o.collectorUrl.replace(/\/+$/, '')}/api/v1/alerts/${i.alert.id}` }),
  });
  const queue = new DeliveryQueue<readonly Item[]>({
    channel: 'alertmanager',
    target: endpoint,
    capacity: o.capacity ?? 100,
    maxAttempts: o.maxAttempts ?? 5,
    backoff: { baseMs: 1000, capMs: 30_000, ...o.backoff },
    clock: o.clock,
    observer: o.observer,
    ...(o.logger === undefined ? {} : { logger: o.logger }),
    async send(items): Promise<SendOutcome> {
      const nowMs = o.clock.nowMs();
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(items.map((i) => postable(i, nowMs))),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'sent';
      return res.status === 400 || res.status === 422 ? 'rejected' : 'retry';
    },
  });

  let timer: ClockTimer | undefined;
  let closed = false;
  const tick = (): void => {
    if (closed) return;
    if (firing.size > 0)
      queue.push(
        [...firing.values()].map((alert) => {
          const latest = o.current?.(alert.id);
          return latest === undefined ? { alert, endsAtMs: null } : { alert, latest, endsAtMs: null };
        }),
      );
    timer = o.clock.setTimeout(tick, resendMs);
  };
  timer = o.clock.setTimeout(tick, resendMs);

  return {
    name: 'alertmanager',
    notify(e: AlertEvent) {
      const a = e.alert;
      if (e.type === 'resolved') {
        firing.delete(a.id);
        queue.push([{ alert: a, endsAtMs: a.resolvedMs ?? e.atMs }]);
        return;
      }
      const before = firing.get(a.id);
      firing.set(a.id, a);
      const items: Item[] = [{ alert: a, endsAtMs: null }];
      // A new label set (severity, kind, cause) is a new alert to Alertmanager: end the old one, or it
      // shows both until the old one expires.
      if (before !== undefined && !sameLabels(alertLabels(before), alertLabels(a)))
        items.push({ alert: before, endsAtMs: e.atMs });
      queue.push(items);
    },
    resync(live) {
      for (const a of live) firing.set(a.id, a);
      if (live.length > 0) queue.push(live.map((alert) => ({ alert, endsAtMs: null })));
    },
    idle: () => queue.idle(),
    close() {
      closed = true;
      timer?.cancel();
      return queue.close();
    },
  };
}
