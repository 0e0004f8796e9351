// The fleet table's rows (GET /api/v1/fleet, the dashboard's first view and its live `device` events): one
// compact row per device, joined from the store (last seen, model), the integrity monitor (online, worst
// check) and the drift monitor (worst group verdict), so the page never fetches 1,000 device documents.

import type { DeviceHealth } from '../integrity/types.ts';
import type { DriftSnapshot, GroupStatus } from '../drift/live/types.ts';
import type { AlertRecord, DeviceRecord } from '../storage/types.ts';

export interface FleetRow {
  readonly deviceId: string;
  /** online, stale or offline (integrity liveness); from the last status message before an evaluation. */
  readonly state: 'online' | 'stale' | 'offline' | 'unknown';
  readonly lastSeenMs: number;
  readonly model: { readonly name: string; readonly version: string } | null;
  /** Worst central integrity check (info-level states such as a clean shutdown do not count). */
  readonly integrity: 'good' | 'suspect' | 'fail' | null;
  /** The integrity checks that are not good, e.g. `stuck:accel.z`. */
  readonly integrityIssues: readonly string[];
  /** drift when any group's verdict is drift, else ok, learning (baseline not ready) or null (unjudged). */
  readonly drift: 'drift' | 'ok' | 'learning' | null;
  /** The drifted groups as basis:group, e.g. `reference:accel`. */
  readonly driftGroups: readonly string[];
  /** Open or acknowledged alerts naming this device. */
  readonly alerts: number;
}

export interface FleetSources {
  devices(): readonly DeviceRecord[];
  health(deviceId: string): DeviceHealth | undefined;
  /** The drift monitor's snapshot of every device, or undefined when monitors are off. */
  drift(): DriftSnapshot | undefined;
  /** Live (open and acknowledged) alerts. */
  liveAlerts(): readonly AlertRecord[];
}

function driftState(statuses: readonly GroupStatus[]): FleetRow['drift'] {
  if (statuses.includes('drift')) return 'drift';
  if (statuses.some((s) => s === 'ok' || s === 'insufficient_data' || s === 'suppressed')) return 'ok';
  if (statuses.includes('learning')) return 'learning';
  return null;
}

export function fleetRows(src: FleetSources): FleetRow[] {
  const drift = new Map((src.drift()?.devices ?? []).map((d) => [d.deviceId, d]));
  const alerts = new Map<string, number>();
  for (const a of src.liveAlerts())
    if (a.deviceId !== null) alerts.set(a.deviceId, (alerts.get(a.deviceId) ?? 0) + 1);
  return src.devices().map((d) => {
    const h = src.health(d.deviceId);
    const groups = drift.get(d.deviceId)?.groups ?? [];
    return {
      deviceId: d.deviceId,
      state: h?.state ?? d.lastStatus?.state ?? 'unknown',
      lastSeenMs: d.lastSeenMs,
      model: d.model === null ? null : { name: d.model.name, version: d.model.version },
      integrity: h === undefined || h.checks.length === 0 ? null : h.status,
      integrityIssues: (h?.checks ?? [])
        .filter((c) => c.status !== 'good' && c.severity !== 'info')
        .map((c) => (c.subject === null ? c.check : `${c.check}:${c.subject}`)),
      drift: driftState(groups.map((g) => g.status)),
      driftGroups: groups.filter((g) => g.status === 'drift').map((g) => `${g.basis}:${g.group}`),
      alerts: alerts.get(d.deviceId) ?? 0,
    };
  });
}
