// The analysis after each phase's bake (issue #10 §3 "Analysis after each phase"): the phase's devices after
// the install against the same devices before it, and against the devices still on the old model, on
// - device outcomes: ROLLED_BACK (the agent's health window refused the model) or FAILED;
// - inference failures: telemetry windows without a prediction while a model is reported;
// - p95 inference latency;
// - input drift: fleetFit (collector/loop/fit.ts) of the new windows against the NEW model's reference,
//   against the fit of the old windows to the OLD model's reference (it should fall, or at least not rise);
// - prediction mix: Jensen–Shannon distance of the label shares (collector/drift/live/mix.ts);
// - confidence: the mean top-class probability.
// Pure: the controller reads the windows and references and stores what this returns.

import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import { jensenShannonDistance } from '../drift/live/mix.ts';
import { fleetFit } from '../loop/fit.ts';
import type { WindowRecord } from '../storage/types.ts';
import type { AnalysisCheck, AnalysisPolicy, Verdict } from './types.ts';

export interface PhaseOutcomes {
  readonly devices: number;
  readonly committed: number;
  readonly rolledBack: number;
  readonly failed: number;
  readonly timedOut: number;
}

export interface AnalysisInput {
  readonly policy: AnalysisPolicy;
  readonly outcomes: PhaseOutcomes;
  /** The phase's devices before the phase started (on the old model). */
  readonly before: ReadonlyMap<string, readonly WindowRecord[]>;
  /** The phase's devices since they committed, windows of the new model only. */
  readonly after: ReadonlyMap<string, readonly WindowRecord[]>;
  /** Devices still on the old model, over the same time as `after`. */
  readonly control: ReadonlyMap<string, readonly WindowRecord[]>;
  readonly newReference: ReferenceProfile | undefined;
  readonly oldReference: ReferenceProfile | undefined;
  /** A phase without bake (the last one, by default) is judged on device outcomes when data is short. */
  readonly bakeS: number;
}

export interface SideFigures {
  readonly windows: number;
  readonly inferenceFailureRate: number | null;
  readonly latencyP95Ms: number | null;
  readonly meanConfidence: number | null;
  readonly mix: Readonly<Record<string, number>>;
}

export interface AnalysisResult {
  readonly verdict: Verdict;
  /** Inconclusive only for want of windows of the new model: more data may still come (the flow waits). */
  readonly shortOfData: boolean;
  readonly reasons: readonly string[];
  readonly checks: readonly AnalysisCheck[];
  readonly figures: {
    readonly outcomes: PhaseOutcomes;
    readonly before: SideFigures;
    readonly after: SideFigures;
    readonly control: SideFigures;
    readonly drift: {
      readonly oldReferenceBefore: number | null;
      readonly newReferenceAfter: number | null;
      readonly oldReferenceControl: number | null;
    };
    readonly predictionMixJs: {
      readonly afterVsBefore: number | null;
      readonly afterVsControl: number | null;
    };
  };
}

function p95(xs: number[]): number | null {
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.ceil(0.95 * xs.length) - 1)] ?? null;
}

const round = (x: number | null, digits = 4): number | null =>
  x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits;

/** Figures of one side; `latencyWarmup` windows per device (oldest first) are left out of the latency. */
export function sideFigures(
  byDevice: ReadonlyMap<string, readonly WindowRecord[]>,
  latencyWarmup = 0,
): SideFigures {
  let windows = 0;
  let withModel = 0;
  let failures = 0;
  const latencies: number[] = [];
  const confidences: number[] = [];
  const counts = new Map<string, number>();
  for (const ws of byDevice.values())
    for (const [i, w] of [...ws].sort((a, b) => a.tsMs - b.tsMs).entries()) {
      windows++;
      if (w.model !== null) {
        withModel++;
        if (w.prediction === null) failures++;
      }
      if (w.prediction === null) continue;
      if (i >= latencyWarmup && Number.isFinite(w.prediction.latencyMs))
        latencies.push(w.prediction.latencyMs);
      const top = Math.max(...Object.values(w.prediction.probabilities));
      if (Number.isFinite(top)) confidences.push(top);
      counts.set(w.prediction.label, (counts.get(w.prediction.label) ?? 0) + 1);
    }
  const predicted = [...counts.values()].reduce((a, b) => a + b, 0);
  const mix: Record<string, number> = {};
  for (const [k, v] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) mix[k] = round(v / predicted) ?? 0;
  return {
    windows,
    inferenceFailureRate: withModel === 0 ? null : round(failures / withModel),
    latencyP95Ms: round(p95(latencies), 3),
    meanConfidence:
      confidences.length === 0 ? null : round(confidences.reduce((a, b) => a + b, 0) / confidences.length),
    mix,
  };
}

const mixMap = (m: Readonly<Record<string, number>>): Map<string, number> => new Map(Object.entries(m));

export function analysePhase(input: AnalysisInput): AnalysisResult {
  const p = input.policy;
  const o = input.outcomes;
  const before = sideFigures(input.before);
  const after = sideFigures(input.after, p.latencyWarmupWindows);
  let latencySamples = 0;
  for (const ws of input.after.values()) latencySamples += Math.max(0, ws.length - p.latencyWarmupWindows);
  const control = sideFigures(input.control);
  const enough = (s: SideFigures): boolean => s.windows >= p.minWindows;
  const checks: AnalysisCheck[] = [];
  const check = (name: string, status: AnalysisCheck['status'], detail: string): void => {
    checks.push({ name, status, detail });
  };
  let inconclusive: string | undefined;
  let short = false;

  // Device outcomes: the agent's own health window already judged these devices.
  const bad = o.rolledBack + o.failed;
  const share = o.devices === 0 ? 0 : bad / o.devices;
  check(
    'device_failures',
    share > p.maxDeviceFailureShare ? 'fail' : 'pass',
    `${o.rolledBack} rolled back, ${o.failed} failed, ${o.timedOut} timed out of ${o.devices} (share ${round(share)} vs max ${p.maxDeviceFailureShare})`,
  );
  // An empty phase (a percentage of no device left) has nothing to judge and nothing wrong: it passes.
  if (o.devices > 0 && o.committed === 0 && bad === 0)
    inconclusive = `no device of the phase committed (${o.timedOut} timed out): nothing to judge`;

  const drift = {
    oldReferenceBefore:
      input.oldReference === undefined ? null : round(fleetFit(input.before, input.oldReference).distance),
    newReferenceAfter:
      input.newReference === undefined ? null : round(fleetFit(input.after, input.newReference).distance),
    oldReferenceControl:
      input.oldReference === undefined ? null : round(fleetFit(input.control, input.oldReference).distance),
  };
  const js = {
    afterVsBefore:
      enough(after) &&
      enough(before) &&
      Object.keys(before.mix).length > 0 &&
      Object.keys(after.mix).length > 0
        ? round(jensenShannonDistance(mixMap(after.mix), mixMap(before.mix)))
        : null,
    afterVsControl:
      enough(after) &&
      enough(control) &&
      Object.keys(control.mix).length > 0 &&
      Object.keys(after.mix).length > 0
        ? round(jensenShannonDistance(mixMap(after.mix), mixMap(control.mix)))
        : null,
  };

  if (!enough(after)) {
    const why = `${after.windows} windows of the new model from the phase's devices, fewer than minWindows ${p.minWindows}`;
    if (input.bakeS > 0 && o.devices > 0 && inconclusive === undefined) {
      inconclusive = why;
      short = true;
    }
    for (const name of ['inference_failures', 'latency_p95', 'input_drift', 'prediction_mix', 'confidence'])
      check(name, 'skipped', why);
  } else {
    // The baseline: the same devices before, else the devices still on the old model.
    const base = enough(before) ? before : enough(control) ? control : undefined;
    const baseName = base === before ? 'before' : 'old-model devices';
    if (after.inferenceFailureRate === null)
      check('inference_failures', 'skipped', 'no window reports a model');
    else {
      const rise = after.inferenceFailureRate - (base?.inferenceFailureRate ?? 0);
      check(
        'inference_failures',
        rise > p.maxInferenceFailureIncrease ? 'fail' : 'pass',
        `share without prediction ${after.inferenceFailureRate} after vs ${base?.inferenceFailureRate ?? 0} ${baseName} (max rise ${p.maxInferenceFailureIncrease})`,
      );
    }
    if (latencySamples < p.minWindows)
      check(
        'latency_p95',
        'skipped',
        `${latencySamples} windows after the first ${p.latencyWarmupWindows} of each device (warm-up), fewer than minWindows ${p.minWindows}`,
      );
    else if (base?.latencyP95Ms == null || after.latencyP95Ms === null)
      check('latency_p95', 'skipped', 'no latency to compare with');
    else {
      const ratio = after.latencyP95Ms / Math.max(base.latencyP95Ms, 1e-6);
      const slow = ratio > p.maxLatencyP95Ratio && after.latencyP95Ms - base.latencyP95Ms > p.latencyMarginMs;
      check(
        'latency_p95',
        slow ? 'fail' : 'pass',
        `p95 ${after.latencyP95Ms} ms after vs ${base.latencyP95Ms} ms ${baseName} (ratio ${round(ratio, 3)}, max ${p.maxLatencyP95Ratio})`,
      );
    }
    const oldFit = drift.oldReferenceBefore ?? drift.oldReferenceControl;
    if (drift.newReferenceAfter === null || oldFit === null)
      check('input_drift', 'skipped', 'a reference profile or enough feature values is missing');
    else {
      const rise = drift.newReferenceAfter - oldFit;
      check(
        'input_drift',
        rise > p.maxDriftIncreaseSigma ? 'fail' : 'pass',
        `distance to the new reference ${drift.newReferenceAfter} σ vs ${oldFit} σ to the old one (max rise ${p.maxDriftIncreaseSigma} σ)`,
      );
    }
    // Both comparisons or none: a model that corrects its predecessor moves the mix away from "before"
    // but towards its peers; only one that disagrees with both is judged a regression. Without peers (the
    // last phase, a 100 % canary) the move alone cannot tell a fix from a fault: skipped, with the figure.
    if (js.afterVsBefore === null || js.afterVsControl === null)
      check(
        'prediction_mix',
        'skipped',
        `needs the mix before and on old-model devices: Jensen–Shannon ${js.afterVsBefore ?? '-'} vs before, ${js.afterVsControl ?? '-'} vs old-model devices`,
      );
    else
      check(
        'prediction_mix',
        Math.min(js.afterVsBefore, js.afterVsControl) > p.maxPredictionMixJs ? 'fail' : 'pass',
        `Jensen–Shannon ${js.afterVsBefore} vs before, ${js.afterVsControl} vs old-model devices (max ${p.maxPredictionMixJs})`,
      );
    // Like the mix, against both baselines where both exist: two models' confidences are not on one scale
    // (a retrained model is often less sure, and better calibrated, than an overconfident predecessor), so
    // only a fall against the same devices before AND against the old-model peers now is the new model's.
    const confBases = [
      ...(enough(before) && before.meanConfidence !== null
        ? [['before', before.meanConfidence] as const]
        : []),
      ...(enough(control) && control.meanConfidence !== null
        ? [['old-model devices', control.meanConfidence] as const]
        : []),
    ];
    if (confBases.length === 0 || after.meanConfidence === null)
      check('confidence', 'skipped', 'no confidence to compare with');
    else {
      const drop = Math.min(...confBases.map(([, c]) => c - (after.meanConfidence as number)));
      check(
        'confidence',
        drop > p.maxConfidenceDrop ? 'fail' : 'pass',
        `mean confidence ${after.meanConfidence} after vs ${confBases.map(([n, c]) => `${c} ${n}`).join(', ')} (max drop ${p.maxConfidenceDrop})`,
      );
    }
  }

  const failed = checks.filter((c) => c.status === 'fail');
  const verdict: Verdict = failed.length > 0 ? 'fail' : inconclusive !== undefined ? 'inconclusive' : 'pass';
  const reasons =
    verdict === 'fail'
      ? failed.map((c) => `${c.name}: ${c.detail}`)
      : verdict === 'inconclusive'
        ? [inconclusive as string]
        : [];
  return {
    verdict,
    shortOfData: verdict === 'inconclusive' && short,
    reasons,
    checks,
    figures: { outcomes: o, before, after, control, drift, predictionMixJs: js },
  };
}
