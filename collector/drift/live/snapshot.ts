// The snapshot the HTTP API shows (types.ts DriftSnapshot) and a group's result row: one device's view,
// per basis and group, with per-feature verdicts, scores and effects, built from the last evaluation.

import type { MonitorResultInput } from '../../storage/types.ts';
import type { ColumnResult } from '../types.ts';
import type { MonitoredFeature } from './features.ts';
import type { BasisJudgement, ColumnJudgement } from './judge.ts';
import type { DeviceState } from './monitor.ts';
import type { DeviceDriftSnapshot, FeatureSnapshot, GroupSnapshot, GroupStatus } from './types.ts';

const num = (x: number, d = 4): number | null => (Number.isFinite(x) ? Number(x.toPrecision(d)) : null);

function featureSnapshot(f: MonitoredFeature, c: ColumnJudgement): FeatureSnapshot {
  const r = c.result;
  const methods: Record<string, FeatureSnapshot['methods'][string]> = {};
  for (const m of r?.methods ?? [])
    methods[m.method] = {
      score: num(m.score),
      threshold: m.threshold === null ? null : num(m.threshold.value),
      verdict: m.verdict,
    };
  return {
    feature: f.name,
    verdict: c.verdict,
    shiftSigma: c.shiftSigma === null ? null : num(c.shiftSigma, 3),
    meanZ: c.meanZ === null ? null : num(c.meanZ, 3),
    label: c.label,
    methods,
  };
}

/** The strongest W1 evidence of a group's columns (the row's statistic and threshold). */
function strongest(
  features: readonly MonitoredFeature[],
  j: BasisJudgement,
  group: string,
): ColumnResult['methods'][number] | null {
  let best: ColumnResult['methods'][number] | null = null;
  features.forEach((f, i) => {
    if (f.group !== group) return;
    const w = (j.columns[i] as ColumnJudgement).result?.methods.find((m) => m.method === 'wasserstein');
    if (w !== undefined && w.threshold !== null && Number.isFinite(w.score))
      if (best === null || w.score / w.threshold.value > best.score / (best.threshold?.value ?? 1)) best = w;
  });
  return best;
}

/** One result row per device, basis and group: status, the strongest W1 score and its threshold. */
export function groupResult(
  deviceId: string,
  j: BasisJudgement,
  group: string,
  status: GroupStatus,
  nowMs: number,
  sinceMs: number | null,
  features: readonly MonitoredFeature[],
): MonitorResultInput {
  const w: ColumnResult['methods'][number] | null = strongest(features, j, group);
  const perFeature: Record<string, { verdict: string; shiftSigma: number | null }> = {};
  features.forEach((f, i) => {
    if (f.group !== group) return;
    const c = j.columns[i] as ColumnJudgement;
    perFeature[f.name] = {
      verdict: c.verdict,
      shiftSigma: c.shiftSigma === null ? null : num(c.shiftSigma, 3),
    };
  });
  return {
    deviceId,
    monitor: `drift.${j.basis}`,
    channel: group,
    tsMs: nowMs,
    status,
    statistic: w === null ? null : num(w.score),
    threshold: w === null || w.threshold === null ? null : num(w.threshold.value),
    details: { sinceMs, classConditional: j.classConditional, features: perFeature },
  };
}

export function deviceSnapshot(
  d: DeviceState,
  features: readonly MonitoredFeature[],
  persistence: number,
): DeviceDriftSnapshot {
  const span = d.ring.span();
  const groups: GroupSnapshot[] = [];
  for (const j of d.judgements)
    for (const [g, status] of j.groups) {
      const r = d.runs.get(`${j.basis}|${g}`);
      const consecutive = r?.consecutive ?? 0;
      groups.push({
        group: g,
        basis: j.basis,
        status,
        consecutive,
        decided: consecutive >= persistence,
        sinceMs: r?.sinceMs ?? null,
        features: features.flatMap((f, i) =>
          f.group === g ? [featureSnapshot(f, j.columns[i] as ColumnJudgement)] : [],
        ),
      });
    }
  return {
    deviceId: d.id,
    model: d.model,
    bases: d.judgements.map((j) => j.basis),
    window: span === null ? null : { ...span, n: d.ring.size },
    baseline: {
      state: d.baseline.state,
      startedMs: d.baseline.startedMs,
      readyMs: d.baseline.readyMs,
      windows: d.baseline.rows,
    },
    evaluatedMs: d.evaluatedMs,
    groups,
    predictionMix: d.mix,
  };
}
