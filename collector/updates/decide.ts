// What a request does (issue #10 §1 "What it does"; docs/update-requests.md "Decision"): the devices'
// recent windows are fitted (collector/loop/fit.ts, the same W1-in-σ measure the rollout analysis uses)
// to the reference of the model they run and to the reference of every newer approved version in the
// registry. The best newer version wins when its distance is at least `fitMargin` (relative) below the
// current one's: it is rolled out. Otherwise the model is retrained.

import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import { fleetFit } from '../loop/fit.ts';
import type { ReferenceSource } from '../monitor/types.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore, WindowRecord } from '../storage/types.ts';
import type { Decision, RequestDevice, UpdatePolicy, VersionFit } from './types.ts';

/** Most windows read per device for a fit (oldest first within the fit window). */
export const MAX_FIT_WINDOWS = 10_000;

export interface DecideDeps {
  readonly store: Pick<TelemetryStore, 'windows'>;
  readonly registry: Pick<Registry, 'listVersions' | 'aliasHistory'> | undefined;
  readonly references: ReferenceSource;
}

export type DecideOutcome =
  | { readonly decided: true; readonly decision: Decision }
  | { readonly decided: false; readonly reason: string };

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/;

/** Semantic-version order; undefined when either is not MAJOR.MINOR.PATCH[-pre][+build]. */
export function compareVersions(a: string, b: string): number | undefined {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (x === null || y === null) return undefined;
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return Math.sign(d);
  }
  const px = x[4];
  const py = y[4];
  if (px === py) return 0;
  if (px === undefined) return 1; // 1.0.0 > 1.0.0-rc.1
  if (py === undefined) return -1;
  return px < py ? -1 : 1;
}

/**
 * Newer approved versions of `model`: newer by semantic version (by push order when a version is not
 * semver), approved when staging, canary or production ever pointed at it (alias history).
 */
export function approvedNewerVersions(
  registry: Pick<Registry, 'listVersions' | 'aliasHistory'>,
  model: ModelRef,
): { versions: string[]; note: string | null } {
  const listed = registry.listVersions(model.name);
  if (!listed.ok) return { versions: [], note: listed.message };
  const history = registry.aliasHistory(model.name);
  const approved = new Set(history.ok ? history.value.map((h) => h.to) : []);
  const order = listed.value.map((v) => v.version);
  const at = order.indexOf(model.version);
  const newer = order.filter((v, i) => {
    const c = compareVersions(v, model.version);
    return c === undefined ? at >= 0 && i > at : c > 0;
  });
  return { versions: newer.filter((v) => approved.has(v)), note: null };
}

function windowsOf(
  store: DecideDeps['store'],
  devices: readonly RequestDevice[],
  policy: UpdatePolicy,
  nowMs: number,
): Map<string, WindowRecord[]> {
  const out = new Map<string, WindowRecord[]>();
  for (const d of devices) {
    // Device time: the newest window the drift monitor judged, so a device whose clock differs from the
    // collector's is still fitted on its own recent data.
    const end = d.lastWindowToMs ?? nowMs;
    out.set(
      d.deviceId,
      store.windows({
        deviceId: d.deviceId,
        fromMs: end - policy.fitWindowS * 1000,
        toMs: end + 1,
        limit: MAX_FIT_WINDOWS,
      }),
    );
  }
  return out;
}

const round = (x: number | null): number | null => (x === null ? null : Number(x.toPrecision(5)));

function fitOf(
  version: string,
  windows: Map<string, WindowRecord[]>,
  deps: DecideDeps,
  model: string,
): VersionFit {
  const profile = deps.references.reference({ name: model, version });
  if (profile === undefined) return { version, distance: null, devices: [] };
  const f = fleetFit(windows, profile);
  return {
    version,
    distance: round(f.distance),
    devices: f.devices.map((d) => ({
      deviceId: d.deviceId,
      distance: round(d.distance),
      windows: d.windows,
    })),
  };
}

export function decide(
  model: ModelRef,
  devices: readonly RequestDevice[],
  deps: DecideDeps,
  policy: UpdatePolicy,
  nowMs: number,
): DecideOutcome {
  const windows = windowsOf(deps.store, devices, policy, nowMs);
  const base = { atMs: nowMs, fitMargin: policy.fitMargin };
  if (deps.references.reference(model) === undefined) {
    return {
      decided: true,
      decision: {
        ...base,
        action: 'retrain',
        reason: `the reference profile of ${model.name}@${model.version} is not known here, so no version can be shown to fit better`,
        current: { version: model.version, distance: null, devices: [] },
        candidates: [],
        toVersion: null,
      },
    };
  }
  const current = fitOf(model.version, windows, deps, model.name);
  if (current.distance === null)
    return {
      decided: false,
      reason: `no recent windows to fit (last ${String(policy.fitWindowS)} s of device time)`,
    };
  const found =
    deps.registry === undefined
      ? { versions: [], note: 'no registry mounted' }
      : approvedNewerVersions(deps.registry, model);
  const candidates = found.versions.map((v) => fitOf(v, windows, deps, model.name));
  const limit = current.distance * (1 - policy.fitMargin);
  let best: VersionFit | undefined;
  for (const c of candidates) {
    if (c.distance === null || c.distance > limit) continue;
    if (best?.distance === undefined || best.distance === null || c.distance < best.distance) best = c;
  }
  const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
  if (best !== undefined)
    return {
      decided: true,
      decision: {
        ...base,
        action: 'rollout',
        reason: `${model.name}@${best.version} fits the devices' data better: ${fmt(best.distance)}σ against ${fmt(current.distance)}σ for ${model.version} (needs ≤ ${fmt(limit)}σ)`,
        current,
        candidates,
        toVersion: best.version,
      },
    };
  const why =
    candidates.length === 0
      ? `no newer approved version of ${model.name}${found.note === null ? '' : ` (${found.note})`}`
      : `no newer approved version fits better by ${String(policy.fitMargin * 100)}% than ${fmt(current.distance)}σ (best ${candidates.map((c) => `${c.version} ${fmt(c.distance)}σ`).join(', ')})`;
  return {
    decided: true,
    decision: { ...base, action: 'retrain', reason: `${why}: retrain`, current, candidates, toVersion: null },
  };
}
