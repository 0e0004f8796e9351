// From judged groups to observations (docs/monitors.md, "Decisions" and "Suspected cause"): persistence
// (a group must drift for driftPersistence consecutive evaluations), the suspected cause from what else
// moved, the recommended action and whether it may run by itself (cooldown), and the evidence an alert
// shows: method, statistic, threshold and origin, effect in σ and in the channel's unit, n and n_eff.

import type { ModelRef } from '../../../shared/mqtt/schemas.ts';
import type {
  AlertKind,
  Evidence,
  Observation,
  RecommendedAction,
  SuspectedCause,
} from '../../monitor/types.ts';
import type { ColumnResult } from '../types.ts';
import { ENVIRONMENT_GROUPS, type MonitoredFeature } from './features.ts';
import type { BasisJudgement, ColumnJudgement } from './judge.ts';
import type { Basis } from './types.ts';

/** Inactive observations sent after a decision ends, so the alert manager's hysteresis can resolve it. */
export const CLEAR_EMITS = 10;
/** Drifting columns shown as evidence per group observation (the largest effects). */
export const MAX_EVIDENCE_COLUMNS = 3;

/** The persistence state of one subject (a basis and group, or the prediction mix) on one device. */
export class Run {
  consecutive = 0;
  sinceMs: number | null = null;
  active = false;
  inactiveLeft = 0;

  /** Counts one evaluation; true while the subject is decided. */
  update(drifting: boolean, windowToMs: number, persistence: number): boolean {
    if (drifting) {
      this.consecutive++;
      this.sinceMs ??= windowToMs;
    } else {
      this.consecutive = 0;
      this.sinceMs = null;
    }
    return this.consecutive >= persistence;
  }

  /** Whether to emit, and with which `active`: while decided, then CLEAR_EMITS inactive ones. */
  emit(decided: boolean): boolean | null {
    if (decided) {
      this.active = true;
      this.inactiveLeft = CLEAR_EMITS;
      return true;
    }
    if (this.active || this.inactiveLeft > 0) {
      this.active = false;
      this.inactiveLeft = Math.max(0, this.inactiveLeft - 1);
      return false;
    }
    return null;
  }
}

export interface DeviceEvidence {
  /** Groups decided on either basis. */
  readonly moved: ReadonlySet<string>;
  /** The prediction mix moved (decided). */
  readonly mixMoved: boolean;
  /** Environment groups moving on many devices at once. */
  readonly fleetGroups: ReadonlySet<string>;
  /** This group's features sit within IN_CLASS_SIGMA of the predicted class's reference (monitor.ts). */
  readonly inClass: boolean;
}

export interface Diagnosis {
  readonly kind: AlertKind;
  readonly cause: SuspectedCause;
  readonly action: RecommendedAction;
}

/**
 * The suspected cause of a moved group (docs/monitors.md, "Suspected cause"):
 * - machine condition change when the prediction mix moved and the group is in-class (its features sit
 *   where the predicted class's machines are): the machine changed state and the features follow it;
 * - environment change when temperature, humidity or pressure moved with another of them (or the same one
 *   moves across the fleet);
 * - calibration drift when a vibration or magnetic sensor moved on this device alone (not across the fleet)
 *   and that is not a condition change: the mix stayed put, or the group left its class (a bias of tens of
 *   σ). Sensors drift one by one; several may, independently;
 * - unknown otherwise, e.g. one environment sensor moving alone.
 */
export function diagnose(group: string, e: DeviceEvidence): Diagnosis {
  const environment = ENVIRONMENT_GROUPS.has(group);
  if (e.mixMoved && e.inClass)
    return { kind: 'condition', cause: 'machine_condition_change', action: 'inspect_machine' };
  if (environment) {
    let env = 0;
    for (const g of e.moved) if (ENVIRONMENT_GROUPS.has(g)) env++;
    if (env >= 2 || e.fleetGroups.has(group))
      return { kind: 'environment', cause: 'environment_change', action: 'request_model_update' };
    // An environment sensor moving alone is not called calibration drift: the surroundings usually move
    // humidity before temperature crosses its floor (humidity-season), so it waits for more evidence.
    return { kind: 'drift', cause: 'unknown', action: 'none' };
  }
  if (!e.fleetGroups.has(group))
    return { kind: 'drift', cause: 'calibration_drift', action: 'recalibrate_sensor' };
  return { kind: 'drift', cause: 'unknown', action: 'none' };
}

const round = (x: number, d = 4): number | null => (Number.isFinite(x) ? Number(x.toPrecision(d)) : null);

/** Evidence of one column: each method that voted drift (or every method when none did). */
export function columnEvidence(feature: MonitoredFeature, c: ColumnJudgement): Evidence[] {
  const r = c.result;
  if (r === null) return [];
  const voted = r.methods.filter((m) => m.verdict === 'drift');
  return (voted.length > 0 ? voted : r.methods).map((m) => ({
    method: m.method,
    statistic: round(m.score),
    threshold: m.threshold === null ? null : round(m.threshold.value),
    thresholdOrigin: m.threshold?.origin ?? null,
    effectSigma: round(r.meanShiftScales, 3),
    effectPhysical: round(r.meanShiftScales * r.reference.scale, 4),
    unit: feature.unit,
    detail: {
      feature: feature.name,
      n: r.n,
      nEff: round(r.nEff, 3),
      votes: `${r.votes.drift}/${r.votes.decisive} (need ${r.votes.needed})`,
      referenceSource: r.reference.source,
      ...(c.label === null ? {} : { class: c.label }),
      ...(m.threshold === null ? {} : { thresholdDetail: m.threshold.detail }),
    },
  }));
}

/** The group's drifting columns, largest |effect| first. */
export function driftingColumns(
  features: readonly MonitoredFeature[],
  j: BasisJudgement,
  group: string,
): { feature: MonitoredFeature; column: ColumnJudgement; result: ColumnResult }[] {
  const out: { feature: MonitoredFeature; column: ColumnJudgement; result: ColumnResult }[] = [];
  features.forEach((f, i) => {
    const c = j.columns[i] as ColumnJudgement;
    if (f.group === group && c.verdict === 'drift' && c.result !== null)
      out.push({ feature: f, column: c, result: c.result });
  });
  const mag = (r: ColumnResult): number =>
    Number.isFinite(r.meanShiftScales) ? Math.abs(r.meanShiftScales) : 0;
  return out.sort((a, b) => mag(b.result) - mag(a.result));
}

const basisWords: Record<Basis, string> = {
  model_reference: "the model's reference profile",
  device_baseline: "the device's own baseline",
};

export interface GroupObservationInput {
  readonly deviceId: string;
  readonly group: string;
  readonly basis: Basis;
  readonly model: ModelRef | null;
  readonly active: boolean;
  readonly atMs: number;
  readonly sinceMs: number | null;
  readonly window: { readonly fromMs: number; readonly toMs: number } | null;
  readonly diagnosis: Diagnosis;
  readonly automatic: boolean;
  readonly columns: ReturnType<typeof driftingColumns>;
}

/** A device-level group observation (check drift.<basis>, subject = group). */
export function groupObservation(o: GroupObservationInput): Observation {
  const top = o.columns.slice(0, MAX_EVIDENCE_COLUMNS);
  const evidence = top.flatMap((c) => columnEvidence(c.feature, c.column));
  const first = top[0];
  const effect =
    first === undefined
      ? ''
      : `: ${first.feature.name} ${fmtSigned(first.result.meanShiftScales, 2)}σ (${fmtSigned(first.result.meanShiftScales * first.result.reference.scale, 3)} ${first.feature.unit ?? ''})`.trimEnd();
  const cause = o.diagnosis.cause.replace(/_/g, ' ');
  const summary = o.active
    ? `${o.group} on ${o.deviceId} moved away from ${basisWords[o.basis]}${effect}; suspected ${cause}`
    : `${o.group} on ${o.deviceId} is back within ${basisWords[o.basis]}`;
  return {
    kind: o.diagnosis.kind,
    deviceId: o.deviceId,
    subject: o.group,
    check: `drift.${o.basis}`,
    active: o.active,
    severity: 'warning',
    atMs: o.atMs,
    sinceMs: o.sinceMs,
    window: o.window,
    summary,
    evidence,
    reference: { basis: o.basis, model: o.model },
    cause: o.active ? o.diagnosis.cause : null,
    action: o.active ? { kind: o.diagnosis.action, automatic: o.automatic } : null,
  };
}

function fmtSigned(x: number, digits: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const s = x.toPrecision(digits);
  return x >= 0 ? `+${s}` : s;
}

export { fmtSigned };
