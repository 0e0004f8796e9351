// Performance over time (docs/explanations.md, "Performance without labels, and with them"): per time
// bucket, the accuracy and macro-F1 estimated from the stored probabilities (CBPE, ./cbpe.ts) and, where
// operator labels cover windows, the realised accuracy, macro-F1 and confusion matrix, with the gap
// between them; realised accuracy by machine state and by integrity status over the range. Pure: the
// service reads the windows, the labels and the model's calibration.

import type { OperatorLabel } from '../retrain/labels.ts';
import type { WindowRecord } from '../storage/types.ts';
import { classificationMetrics } from '../training/metrics.ts';
import { estimatePerformance, type EstimatedPerformance } from './cbpe.ts';

export interface PerformanceInput {
  readonly windows: readonly WindowRecord[];
  readonly deviceId: string | null;
  readonly fromMs: number;
  readonly bucketMs: number;
  /** The model's test-report ECE, or null when unknown. */
  readonly ece: number | null;
  /** Operator labels over the range, oldest first (a later one wins where they overlap). */
  readonly labels: readonly OperatorLabel[];
  readonly maxTrustedEce?: number;
}

export interface PerformanceBucket {
  readonly fromMs: number;
  readonly windows: number;
  readonly estimated: Omit<EstimatedPerformance, 'reason'>;
  /** null when no operator label covers a window of the bucket. */
  readonly realised: {
    readonly windows: number;
    readonly accuracy: number;
    readonly macroF1: number;
    readonly confusion: readonly (readonly number[])[];
  } | null;
  /** Estimated minus realised accuracy, when both exist. */
  readonly gap: number | null;
}

export interface PerformanceSeries {
  readonly deviceId: string | null;
  readonly labels: readonly string[];
  readonly bucketMs: number;
  readonly calibration: { readonly ece: number | null; readonly trusted: boolean; readonly reason: string };
  readonly buckets: readonly PerformanceBucket[];
  /** Realised accuracy by machine state (the operator's label) and by integrity status, over the range. */
  readonly realisedBy: {
    readonly state: Readonly<Record<string, { readonly windows: number; readonly accuracy: number }>>;
    readonly integrity: Readonly<Record<string, { readonly windows: number; readonly accuracy: number }>>;
  };
}

export function performanceSeries(input: PerformanceInput): PerformanceSeries {
  const { windows, deviceId, fromMs, bucketMs, ece } = input;
  const withPrediction = windows.filter((w) => w.prediction !== null);
  const labels = Object.keys(withPrediction[0]?.prediction?.probabilities ?? {});
  const c = labels.length;
  const trustProbe = estimatePerformance([], 0, c, ece, input.maxTrustedEce);
  const labelList = input.labels;
  const truthOf = (w: WindowRecord): string | undefined => {
    let found: string | undefined;
    // Oldest first, so a later label (a correction) wins.
    for (const l of labelList)
      if (l.deviceId === w.deviceId && w.tsMs >= l.fromMs && w.tsMs < l.toMs) found = l.state;
    return found;
  };
  const buckets = new Map<number, WindowRecord[]>();
  for (const w of withPrediction) {
    const b = fromMs + Math.floor((w.tsMs - fromMs) / bucketMs) * bucketMs;
    const list = buckets.get(b) ?? [];
    list.push(w);
    buckets.set(b, list);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const byState: Record<string, { windows: number; right: number }> = {};
  const byIntegrity: Record<string, { windows: number; right: number }> = {};
  const out: PerformanceBucket[] = [];
  for (const [start, list] of [...buckets.entries()].sort(([a], [b]) => a - b)) {
    const probs = new Float64Array(list.length * c);
    list.forEach((w, i) => {
      labels.forEach((l, k) => {
        probs[i * c + k] = w.prediction?.probabilities[l] ?? 0;
      });
    });
    const e = estimatePerformance(probs, list.length, c, ece, input.maxTrustedEce);
    const estimated = {
      windows: e.windows,
      accuracy: e.accuracy,
      macroF1: e.macroF1,
      calibrationEce: e.calibrationEce,
      trusted: e.trusted,
    };
    const actual: number[] = [];
    const predicted: number[] = [];
    for (const w of list) {
      const t = truthOf(w);
      const ti = t === undefined ? undefined : index.get(t);
      const pi = index.get(w.prediction?.label ?? '');
      if (ti === undefined || pi === undefined) continue;
      actual.push(ti);
      predicted.push(pi);
      const s = (byState[t as string] ??= { windows: 0, right: 0 });
      const g = (byIntegrity[w.integrityStatus] ??= { windows: 0, right: 0 });
      s.windows++;
      g.windows++;
      if (ti === pi) {
        s.right++;
        g.right++;
      }
    }
    let realised: PerformanceBucket['realised'] = null;
    if (actual.length > 0) {
      const m = classificationMetrics(Int32Array.from(actual), Int32Array.from(predicted), labels);
      realised = {
        windows: actual.length,
        accuracy: m.accuracy,
        macroF1: m.macroF1,
        confusion: m.confusion,
      };
    }
    out.push({
      fromMs: start,
      windows: list.length,
      estimated,
      realised,
      gap: realised === null ? null : estimated.accuracy - realised.accuracy,
    });
  }
  const rate = (r: Record<string, { windows: number; right: number }>) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, { windows: v.windows, accuracy: v.right / v.windows }]),
    );
  return {
    deviceId,
    labels,
    bucketMs,
    calibration: { ece, trusted: trustProbe.trusted, reason: trustProbe.reason },
    buckets: out,
    realisedBy: { state: rate(byState), integrity: rate(byIntegrity) },
  };
}
