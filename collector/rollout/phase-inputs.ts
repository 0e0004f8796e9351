// What a phase analysis compares (docs/rollouts.md §Analysis), read from the telemetry store: the phase's
// devices before the phase started (old model), the same devices since (windows of the new version only),
// and the devices still waiting for a later phase over the same time (control).

import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { TelemetryStore, WindowRecord } from '../storage/types.ts';
import { analysePhase, type AnalysisResult } from './analysis.ts';
import type { RolloutRow } from './store.ts';
import type { PhaseView, RolloutDeviceView } from './types.ts';

export interface PhaseInputDeps {
  readonly telemetry: Pick<TelemetryStore, 'windows'>;
  readonly reference: (model: ModelRef) => ReferenceProfile | undefined;
}

function windowsOf(
  d: PhaseInputDeps,
  deviceIds: readonly string[],
  fromMs: number,
  toMs: number,
  keep: (w: WindowRecord) => boolean,
): Map<string, WindowRecord[]> {
  const out = new Map<string, WindowRecord[]>();
  if (toMs <= fromMs) return out;
  for (const id of deviceIds) {
    const ws = d.telemetry.windows({ deviceId: id, fromMs, toMs }).filter(keep);
    if (ws.length > 0) out.set(id, ws);
  }
  return out;
}

export function analyseStoredPhase(
  d: PhaseInputDeps,
  r: RolloutRow,
  phase: PhaseView,
  all: readonly RolloutDeviceView[],
  now: number,
): AnalysisResult {
  const devices = all.filter((x) => x.phase === phase.index);
  const startedMs = phase.startedMs ?? now;
  const isNew = (w: WindowRecord): boolean => w.model?.name === r.model && w.model.version === r.toVersion;
  const committed = devices.filter((x) => x.state === 'committed').map((x) => x.deviceId);
  const ids = devices.map((x) => x.deviceId);
  return analysePhase({
    policy: r.plan.analysis,
    outcomes: {
      devices: devices.length,
      committed: committed.length,
      rolledBack: devices.filter((x) => x.state === 'rolled_back').length,
      failed: devices.filter((x) => x.state === 'failed').length,
      timedOut: devices.filter((x) => x.state === 'timed_out').length,
    },
    before: windowsOf(d, ids, startedMs - r.plan.analysis.baselineS * 1000, startedMs, (w) => !isNew(w)),
    after: windowsOf(d, committed, startedMs, now + 1, isNew),
    control: windowsOf(
      d,
      all.filter((x) => x.state === 'pending').map((x) => x.deviceId),
      phase.settledMs ?? startedMs,
      now + 1,
      (w) => !isNew(w),
    ),
    newReference: d.reference({ name: r.model, version: r.toVersion }),
    oldReference: r.fromVersion === null ? undefined : d.reference({ name: r.model, version: r.fromVersion }),
    bakeS: phase.bakeS,
  });
}
