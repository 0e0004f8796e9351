// The alert of an update request (issue #10 §1 "Update requests are alerts of their own kind"): one
// `model_update` observation per request that has not ended (check `update.request`, no device, subject =
// the model name), then CLEAR_EMITS inactive ones once it ended, so the alert manager's hysteresis
// (alertClearAfter, default 3) resolves it.

import type { Observation } from '../monitor/types.ts';
import { isEnded } from './store.ts';
import type { UpdateRequestView } from './types.ts';

export const UPDATE_CHECK = 'update.request';
/** Inactive observations after a request ended (as the drift monitor's CLEAR_EMITS). */
export const CLEAR_EMITS = 10;
/** Devices named in a summary before "and N more". */
const SUMMARY_DEVICES = 5;

function devicesText(r: UpdateRequestView): string {
  const ids = r.devices.map((d) => d.deviceId);
  const shown = ids.slice(0, SUMMARY_DEVICES).join(', ');
  return ids.length > SUMMARY_DEVICES ? `${shown} and ${String(ids.length - SUMMARY_DEVICES)} more` : shown;
}

/** What the request is doing, in words. */
export function stateText(r: UpdateRequestView): string {
  switch (r.state) {
    case 'open':
      return 'deciding (waiting for recent windows)';
    case 'rollout_proposed':
      return `rollout of ${r.rolloutPlan?.toVersion ?? '?'} proposed, waiting for approval`;
    case 'rolling_out':
      return `rolling out ${r.rolloutPlan?.toVersion ?? '?'} (${r.rolloutId ?? '?'})`;
    case 'retraining':
      return `retraining (${r.trainingJobId ?? '?'})`;
    case 'blocked':
      return `cannot act: ${r.blocked?.reason ?? 'unknown reason'}`;
    default:
      return `${r.state.replace(/_/g, ' ')}${r.outcome === null ? '' : `: ${r.outcome}`}`;
  }
}

export function requestObservation(r: UpdateRequestView, active: boolean, nowMs: number): Observation {
  const first = r.evidence[0];
  const subjects = [...new Set(r.devices.flatMap((d) => d.subjects))].join(', ');
  const decision = r.decision === null ? '' : `; decision: ${r.decision.action} (${r.decision.reason})`;
  const summary = active
    ? `model ${r.model.name}@${r.model.version} no longer fits ${devicesText(r)} (${subjects}): update request ${r.id}, ${stateText(r)}${decision}`
    : `update request ${r.id} for ${r.model.name} ended: ${stateText(r)}`;
  return {
    kind: 'model_update',
    deviceId: null,
    subject: r.model.name,
    check: UPDATE_CHECK,
    active: active && !isEnded(r.state),
    severity: 'warning',
    atMs: nowMs,
    sinceMs: r.createdMs,
    window: null,
    summary,
    evidence: [
      {
        method: 'reference_fit',
        statistic: r.decision?.current.distance ?? null,
        threshold:
          r.decision?.current.distance === null || r.decision === null
            ? null
            : Number((r.decision.current.distance * (1 - r.decision.fitMargin)).toPrecision(5)),
        thresholdOrigin: 'config',
        effectSigma: r.decision?.current.distance ?? null,
        detail: {
          requestId: r.id,
          state: r.state,
          devices: r.devices.map((d) => d.deviceId),
          channels: r.channels,
          toVersion: r.decision?.toVersion ?? r.rolloutPlan?.toVersion ?? null,
          rolloutId: r.rolloutId,
          trainingJobId: r.trainingJobId,
        },
      },
    ],
    reference: { basis: 'model_reference', model: r.model },
    cause: active ? (first?.cause ?? null) : null,
    action: active ? { kind: 'request_model_update', automatic: false } : null,
  };
}
