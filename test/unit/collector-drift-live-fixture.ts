// Telemetry for the live drift monitor's tests and benchmark: schema-shaped messages with the monitored
// features, generated as stationary AR(1) streams (shared/random.ts fillAr1) around plausible levels.

import assert from 'node:assert/strict';
import { binIndex, buildReferenceProfile, type ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { Prng } from '../../shared/random.ts';
import type { IncomingMessage } from '../../collector/storage/types.ts';
import { defaultFeatureNames } from '../../collector/drift/live/features.ts';
import type { ChannelHealth, QcStatus } from '../../collector/monitor/types.ts';

export const FEATURES = defaultFeatureNames();

/** Level and window-to-window spread of each default feature (roughly the reference board at rest). */
export function levelOf(name: string): { mean: number; sd: number } {
  if (name.startsWith('humidity')) return { mean: 45, sd: 0.6 };
  if (name.startsWith('pressure')) return { mean: 1013, sd: 0.05 };
  if (name.startsWith('temperature')) return { mean: 27, sd: 0.13 };
  if (name.endsWith('.std')) return { mean: 0.02, sd: 0.001 };
  if (name === 'accel.z.mean' || name === 'accel.magnitude.mean') return { mean: 1, sd: 0.0017 };
  return { mean: 0.1, sd: 0.005 };
}

export interface Prediction {
  readonly label: string;
  readonly probabilities: Record<string, number>;
}

export function telemetry(
  deviceId: string,
  seq: number,
  tsMs: number,
  features: Record<string, number | null>,
  prediction: Prediction | null = null,
  model: { name: string; version: string } | null = null,
): IncomingMessage {
  const payload = {
    v: 1,
    deviceId,
    runId: 1,
    msgSeq: seq,
    tsMs,
    bootId: 1,
    window: { index: seq, startUs: seq * 1e6, endUs: (seq + 1) * 1e6 },
    featurePipeline: 'edgeloop-features/v1',
    features,
    prediction: prediction === null ? null : { ...prediction, latencyMs: 1 },
    model,
    integrity: { status: 'good', channels: {}, flags: [] },
    counters: {
      framesDecoded: seq,
      framesInvalid: 0,
      samples: seq,
      gaps: 0,
      samplesMissing: 0,
      windows: seq,
    },
  } satisfies TelemetryPayload;
  return { message: { kind: 'telemetry', deviceId, payload }, receivedMs: tsMs };
}

/**
 * One device's feature stream: each feature an AR(1) with lag-1 autocorrelation phi around levelOf(),
 * one window a second. `shift(name, t)` adds to a value (in the feature's unit) at window t.
 */
export class FeatureStream {
  private readonly rng: Prng;
  private readonly x: Float64Array;
  t = 0;
  constructor(
    seed: number,
    private readonly phi: number,
    private readonly names: readonly string[] = FEATURES,
  ) {
    this.rng = new Prng(seed, 'drift-live-fixture');
    this.x = Float64Array.from(names, () => this.rng.gaussian());
  }
  next(shift?: (name: string, t: number) => number): Record<string, number> {
    const out: Record<string, number> = {};
    const inn = Math.sqrt(1 - this.phi * this.phi);
    this.names.forEach((n, i) => {
      const x = this.phi * (this.x[i] as number) + inn * this.rng.gaussian();
      this.x[i] = x;
      const { mean, sd } = levelOf(n);
      out[n] = mean + sd * x + (shift?.(n, this.t) ?? 0);
    });
    this.t++;
    return out;
  }
}

/** Channel health from a fixed map of failing channels per device (everything else good). */
export function fixedChannelHealth(fail: Record<string, readonly string[]> = {}): ChannelHealth {
  return {
    channelStatus(deviceId: string, channel: string): QcStatus {
      return fail[deviceId]?.includes(channel) === true ? 'fail' : 'good';
    },
  };
}

/** The imbalance state's signature in these tests: gyro means up by 0.05. */
export const imbalance = (n: string): number => (n.startsWith('gyro.') && n.endsWith('.mean') ? 0.05 : 0);

/** One class's part of a reference profile, in its stored shape (binned on the pooled profile's edges). */
export function classPart(label: string, rows: Record<string, number>[], pooled: ReferenceProfile) {
  return {
    label,
    rows: rows.length,
    features: pooled.features.map((f) => {
      const v = rows.map((r) => r[f.name] as number);
      const sorted = [...v].sort((a, b) => a - b);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      const med = sorted[sorted.length >> 1] as number;
      const mad = [...v.map((x) => Math.abs(x - med))].sort((a, b) => a - b)[v.length >> 1] as number;
      let cross = 0;
      for (let i = 1; i < v.length; i++) cross += ((v[i - 1] as number) - mean) * ((v[i] as number) - mean);
      const counts = new Array<number>(f.binEdges.length + 1).fill(0);
      for (const x of v) counts[binIndex(f.binEdges, x)]! += 1;
      return {
        name: f.name,
        count: v.length,
        nonFinite: 0,
        counts,
        mean,
        std,
        mad,
        min: sorted[0] as number,
        max: sorted[sorted.length - 1] as number,
        lag1Autocorr: std > 0 ? cross / (std * std * v.length) : 0,
        sample: Array.from(
          { length: 500 },
          (_, i) => sorted[Math.floor(((i + 0.5) * v.length) / 500)] as number,
        ),
      };
    }),
  };
}

/** A pooled reference of 8,000 normal and 2,000 imbalance rows, with both class parts. */
export function profileWithClasses(): ReferenceProfile {
  const s = new FeatureStream(7, 0.5);
  const normal = Array.from({ length: 8000 }, () => s.next());
  const imb = Array.from({ length: 2000 }, () => s.next(imbalance));
  const rows = [...normal, ...imb];
  const built = buildReferenceProfile(
    FEATURES.map((name) => ({ name, values: rows.map((r) => r[name] as number) })),
  );
  assert.ok(built.ok);
  const classes = [classPart('imbalance', imb, built.value), classPart('normal', normal, built.value)];
  // Typed loosely: the `classes` field is optional in reference.json (older profiles lack it).
  const withClasses: unknown = { ...built.value, classes };
  return withClasses as ReferenceProfile;
}

/** A prediction of `label` at 0.95. */
export const confident = (label: string) => ({
  label,
  probabilities: label === 'normal' ? { normal: 0.95, imbalance: 0.05 } : { normal: 0.05, imbalance: 0.95 },
});
