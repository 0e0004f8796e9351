// Fleet-level decisions (docs/monitors.md, "Decisions"): the same group decided on at least
// fleetMinDevices devices and fleetMinFraction of those judged on it, at once, is one observation with
// deviceId null. For an environment group the cause is environment_change (the surroundings of many
// devices moved), otherwise unknown (a fleet-wide firmware or supply change, say).

import type { Observation } from '../../monitor/types.ts';
import { Run } from './decide.ts';
import { ENVIRONMENT_GROUPS } from './features.ts';
import type { Basis } from './types.ts';

export class FleetDecisions {
  private readonly runs = new Map<string, Run>();
  /** `${basis}|${group}` → devices moving, for the decisions active now. */
  readonly active = new Map<string, number>();

  constructor(
    private readonly minDevices: number,
    private readonly minFraction: number,
  ) {}

  /** Keys (`${basis}|${group}`) moving on enough devices, from per-key moving and judged counts. */
  keys(moving: ReadonlyMap<string, number>, judged: ReadonlyMap<string, number>): Set<string> {
    const out = new Set<string>();
    for (const [k, n] of moving)
      if (n >= this.minDevices && n >= this.minFraction * (judged.get(k) ?? 0)) out.add(k);
    return out;
  }

  outputs(
    nowMs: number,
    moving: ReadonlyMap<string, number>,
    judged: ReadonlyMap<string, number>,
    fleetKeys: ReadonlySet<string>,
    observations: Observation[],
  ): void {
    for (const k of new Set([...fleetKeys, ...this.runs.keys()])) {
      let r = this.runs.get(k);
      if (r === undefined) this.runs.set(k, (r = new Run()));
      const on = fleetKeys.has(k);
      const emit = r.emit(on);
      if (on) this.active.set(k, moving.get(k) ?? 0);
      else this.active.delete(k);
      if (emit === null) {
        this.runs.delete(k);
        continue;
      }
      const [basis, group] = k.split('|') as [Basis, string];
      const env = ENVIRONMENT_GROUPS.has(group);
      const n = moving.get(k) ?? 0;
      const of = judged.get(k) ?? 0;
      observations.push({
        kind: env ? 'environment' : 'drift',
        deviceId: null,
        subject: group,
        check: `drift.${basis}`,
        active: emit,
        severity: 'warning',
        atMs: nowMs,
        sinceMs: null,
        window: null,
        summary: emit
          ? `${group} moved on ${String(n)} of ${String(of)} devices at once (${basis.replace('_', ' ')})${env ? '; suspected environment change' : ''}`
          : `${group} no longer moves on many devices at once`,
        evidence: [
          {
            method: 'fleet_count',
            statistic: n,
            threshold: Math.max(this.minDevices, Math.ceil(this.minFraction * of)),
            thresholdOrigin: 'config',
            detail: { judged: of },
          },
        ],
        reference: { basis, model: null },
        cause: emit ? (env ? 'environment_change' : 'unknown') : null,
        action: emit ? { kind: env ? 'request_model_update' : 'none', automatic: false } : null,
      });
    }
  }
}
