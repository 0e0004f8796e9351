// How a qualifying observation lands in a request (docs/update-requests.md, "One request per model"): a
// new request, a device joining the model's request, or a member's refresh. Pure: the caller stores.

import type { Trigger } from './trigger.ts';
import type { RequestDevice, RequestEvidence, UpdateRequestView } from './types.ts';

/** Evidence entries kept per request (the first per device and subject). */
export const MAX_EVIDENCE = 50;

export function evidenceOf(t: Trigger): RequestEvidence {
  const o = t.observation;
  return {
    deviceId: t.deviceId,
    check: o.check,
    subject: o.subject,
    cause: o.cause,
    summary: o.summary,
    evidence: o.evidence,
    atMs: o.atMs,
    window: o.window,
  };
}

function withEvidence(r: UpdateRequestView, t: Trigger): readonly RequestEvidence[] {
  const known = r.evidence.some((e) => e.deviceId === t.deviceId && e.subject === t.subject);
  return known || r.evidence.length >= MAX_EVIDENCE ? r.evidence : [...r.evidence, evidenceOf(t)];
}

export function newDevice(t: Trigger, nowMs: number): RequestDevice {
  return {
    deviceId: t.deviceId,
    version: t.model.version,
    subjects: [t.subject],
    channels: t.channels,
    integrity: t.integrity,
    addedMs: nowMs,
    lastWindowToMs: t.observation.window?.toMs ?? null,
  };
}

export function newRequest(id: string, t: Trigger, nowMs: number, actor: string): UpdateRequestView {
  return {
    id,
    model: t.model,
    state: 'open',
    createdMs: nowMs,
    updatedMs: nowMs,
    endedMs: null,
    devices: [newDevice(t, nowMs)],
    channels: [...t.channels],
    evidence: [evidenceOf(t)],
    decision: null,
    rolloutPlan: null,
    rolloutId: null,
    trainingJobId: null,
    blocked: null,
    outcome: null,
    history: [{ atMs: nowMs, from: null, to: 'open', actor, note: t.observation.summary }],
  };
}

/** The parts of a request that change when a device joins it. */
export function joined(
  r: UpdateRequestView,
  t: Trigger,
  nowMs: number,
): Pick<UpdateRequestView, 'devices' | 'channels' | 'evidence'> {
  return {
    devices: [...r.devices, newDevice(t, nowMs)],
    channels: [...new Set([...r.channels, ...t.channels])],
    evidence: withEvidence(r, t),
  };
}

/**
 * A member's new observation: new groups, channels or evidence, and (until the request decided) the
 * newest window time the fit is anchored at. undefined when nothing worth a write changed, so a member
 * drifting on for hours costs no write per monitor cycle.
 */
export function refreshed(
  r: UpdateRequestView,
  member: RequestDevice,
  t: Trigger,
): UpdateRequestView | undefined {
  const subjects = [...new Set([...member.subjects, t.subject])];
  const channels = [...new Set([...member.channels, ...t.channels])];
  const evidence = withEvidence(r, t);
  const windowTo = t.observation.window?.toMs ?? null;
  const anchor = r.decision === null && windowTo !== null && windowTo !== member.lastWindowToMs;
  if (
    subjects.length === member.subjects.length &&
    channels.length === member.channels.length &&
    evidence === r.evidence &&
    !anchor
  )
    return undefined;
  const updated: RequestDevice = {
    ...member,
    subjects,
    channels,
    lastWindowToMs: anchor ? windowTo : member.lastWindowToMs,
  };
  return {
    ...r,
    devices: r.devices.map((d) => (d === member ? updated : d)),
    channels: [...new Set([...r.channels, ...channels])],
    evidence,
  };
}
