// From a monitor's observation to the stored alert (issue #9 §6 "Content"): the alert explains itself, so
// its details carry the whole observation (check, evidence with method, statistic, threshold and its
// origin, effect in σ and physical units, window, since, reference and model, cause, action), not a
// summary of it. The API, the MQTT payload, the webhook body and the Alertmanager annotations all read
// these details, so they say the same thing.

import { observationKey, type AlertKind, type Observation } from '../monitor/types.ts';
import type { AlertInput, AlertRecord } from '../storage/types.ts';
import type { AlertDetails } from './types.ts';

export type Severity = AlertRecord['severity'];
export const severities = ['info', 'warning', 'critical'] as const satisfies readonly Severity[];
export const alertKinds = [
  'integrity',
  'drift',
  'environment',
  'condition',
  'model_update',
  'performance',
] as const satisfies readonly AlertKind[];

const severityRank: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/** The more severe of the two. */
export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank[b] > severityRank[a] ? b : a;
}

export function isHigher(a: Severity, than: Severity): boolean {
  return severityRank[a] > severityRank[than];
}

export function observationDetails(o: Observation): AlertDetails {
  return {
    kind: o.kind,
    check: o.check,
    subject: o.subject,
    summary: o.summary,
    atMs: o.atMs,
    sinceMs: o.sinceMs,
    window: o.window,
    evidence: o.evidence,
    reference: o.reference,
    cause: o.cause,
    action: o.action,
  };
}

/** The store input for an active observation; `severity` is the one to keep (never lowered while live). */
export function alertInput(o: Observation, severity: Severity): AlertInput {
  return {
    dedupKey: observationKey(o),
    kind: o.kind,
    severity,
    deviceId: o.deviceId,
    channel: o.subject,
    message: o.summary,
    details: observationDetails(o),
  };
}

/** The details of a stored alert when they have our shape (alerts raised elsewhere may not). */
export function detailsOf(a: AlertRecord): Partial<AlertDetails> {
  const d = a.details;
  return typeof d === 'object' && d !== null && !Array.isArray(d) ? d : {};
}

/** The check of a stored alert: from its details, else the first part of its dedup key. */
export function checkOf(a: AlertRecord): string {
  const c = detailsOf(a).check;
  return typeof c === 'string' ? c : (a.dedupKey.split('|')[0] ?? a.kind);
}
