// The estimated-drop monitor (docs/explanations.md, "Estimated drop alerts"): per device, the newest
// windows' class probabilities under the model the device runs; each evaluation estimates the accuracy
// with CBPE (./cbpe.ts) and compares it with the accuracy the model's test report measured. An estimate
// more than `margin` below it, from a model whose calibration can be trusted, is a `performance` alert,
// and the update-request rule takes it like a drift of the model's inputs (collector/updates/trigger.ts).
// A model whose calibration cannot be trusted is judged `insufficient_data`, never alerted on: its
// probabilities do not say how often it is right. Windows that fail integrity are left out.

import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Monitor, MonitorCycle, Observation } from '../monitor/types.ts';
import type { IncomingMessage, MonitorResultInput } from '../storage/types.ts';
import { DEFAULT_MAX_TRUSTED_ECE, estimatePerformance } from './cbpe.ts';

/** What the model's test report measured (manifest metrics), or undefined when unknown here. */
export type ModelMetricsSource = (
  model: ModelRef,
) => { readonly accuracy: number | null; readonly ece: number | null } | undefined;

export interface DropMonitorOptions {
  /** Windows per device the estimate is over (the newest). Default 300. */
  readonly windows?: number;
  /** Fewest windows before a device is judged. Default 100. */
  readonly minWindows?: number;
  /** Estimated accuracy this far below the test accuracy raises the alert. Default 0.1. */
  readonly margin?: number;
  readonly maxTrustedEce?: number;
}

export const DROP_CHECK = 'performance.estimated_drop';

interface DeviceRing {
  model: ModelRef;
  key: string;
  labels: readonly string[];
  /** Probabilities, `windows * labels.length`, as a ring. */
  probs: Float64Array;
  ts: Float64Array;
  next: number;
  count: number;
}

const keyOf = (m: ModelRef): string => `${m.name}@${m.version}`;

export function createDropMonitor(metrics: ModelMetricsSource, o: DropMonitorOptions = {}): Monitor {
  const size = o.windows ?? 300;
  const minWindows = Math.min(size, o.minWindows ?? 100);
  const margin = o.margin ?? 0.1;
  const maxEce = o.maxTrustedEce ?? DEFAULT_MAX_TRUSTED_ECE;
  const devices = new Map<string, DeviceRing>();

  const observe = (msg: IncomingMessage): void => {
    if (msg.message.kind !== 'telemetry') return;
    const p = msg.message.payload;
    // A window that fails integrity says the sensor is broken, not the model: it is left out of the estimate.
    if (p.model === null || p.prediction === null || p.integrity.status === 'fail') return;
    const labels = Object.keys(p.prediction.probabilities);
    const key = keyOf(p.model);
    let d = devices.get(p.deviceId);
    if (d === undefined || d.key !== key || d.labels.length !== labels.length) {
      // A new model: its estimate starts over.
      d = {
        model: p.model,
        key,
        labels,
        probs: new Float64Array(size * labels.length),
        ts: new Float64Array(size),
        next: 0,
        count: 0,
      };
      devices.set(p.deviceId, d);
    }
    const ring = d;
    const c = ring.labels.length;
    ring.labels.forEach((l, k) => {
      ring.probs[ring.next * c + k] = p.prediction?.probabilities[l] ?? 0;
    });
    d.ts[d.next] = p.tsMs;
    d.next = (d.next + 1) % size;
    d.count = Math.min(size, d.count + 1);
  };

  const evaluate = (nowMs: number): MonitorCycle => {
    const observations: Observation[] = [];
    const results: MonitorResultInput[] = [];
    for (const [deviceId, d] of devices) {
      const measured = metrics(d.model);
      if (measured === undefined || measured.accuracy === null || d.count < minWindows) continue;
      const c = d.labels.length;
      const e = estimatePerformance(d.probs.subarray(0, d.count * c), d.count, c, measured.ece, maxEce);
      const threshold = measured.accuracy - margin;
      const active = e.trusted && e.accuracy < threshold;
      const status = !e.trusted ? 'insufficient_data' : active ? 'drop' : 'ok';
      let fromMs = Number.POSITIVE_INFINITY;
      let toMs = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < d.count; i++) {
        fromMs = Math.min(fromMs, d.ts[i] as number);
        toMs = Math.max(toMs, d.ts[i] as number);
      }
      const detail = {
        estimatedAccuracy: e.accuracy,
        estimatedMacroF1: e.macroF1,
        testAccuracy: measured.accuracy,
        margin,
        calibrationEce: measured.ece,
        trusted: e.trusted,
        windows: d.count,
      };
      results.push({
        deviceId,
        monitor: DROP_CHECK,
        channel: null,
        tsMs: nowMs,
        status,
        statistic: e.accuracy,
        threshold,
        details: detail,
      });
      observations.push({
        kind: 'performance',
        deviceId,
        subject: null,
        check: DROP_CHECK,
        active,
        severity: 'warning',
        atMs: nowMs,
        sinceMs: active ? fromMs : null,
        window: { fromMs, toMs: toMs + 1 },
        summary:
          `estimated accuracy of ${d.key} on ${deviceId} is ${e.accuracy.toFixed(3)}, ` +
          `${(measured.accuracy - e.accuracy).toFixed(3)} below its test accuracy ${measured.accuracy.toFixed(3)} ` +
          `(margin ${margin}; CBPE over ${d.count} windows, calibration error ${measured.ece?.toFixed(3) ?? 'unknown'})`,
        evidence: [
          {
            method: 'cbpe',
            statistic: e.accuracy,
            threshold,
            thresholdOrigin: 'config',
            detail,
          },
        ],
        reference: { basis: 'model_reference', model: d.model },
        cause: 'unknown',
        action: { kind: 'request_model_update', automatic: false },
      });
    }
    return { observations, results };
  };

  return { name: 'performance', observe, evaluate };
}
