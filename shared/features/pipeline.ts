// The one feature pipeline (issue #3 §1, docs/features.md). Training on the collector and inference on the
// agent both call compute() on a Window, so a model never sees features computed by other code than the
// code it was trained on. The id names this code's version and the params hash names its settings; a
// model bundle records both, and an agent that cannot reproduce them refuses the bundle.

import { EdgeloopError, fail, ok, type Result } from '../errors.ts';
import type { ChannelWindow, Window } from '../samples.ts';
import { channelNames, type SensorDescriptor } from '../sensors.ts';
import { timeStats } from './moments.ts';
import { featureParamsHash, resolveFeatureParams, type FeatureParams } from './params.ts';
import { bandEdgesHz, SpectrumWorkspace } from './spectrum.ts';

/**
 * Bump the version whenever any formula, ordering or imputation rule changes: a bundle trained on v1
 * features must not silently run on different numbers.
 */
export const featurePipelineId = 'edgeloop-features/v1';
export type FeaturePipelineId = typeof featurePipelineId;

/** Features of a fast channel (declared rate >= fastRateHz), before its bands. */
export const fastFeatureNames = ['mean', 'std', 'rms', 'p2p', 'skewness', 'kurtosis', 'crest'] as const;
/** Features of a slow channel: one or a few samples per window, so only level statistics. */
export const slowFeatureNames = ['mean', 'min', 'max', 'last'] as const;

/** What a model bundle's manifest records about its pipeline (shared/bundle/manifest.ts PipelineRef). */
export interface FeaturePipelineRef {
  readonly id: string;
  readonly paramsHash: string;
}

export interface FeatureVector {
  /** Feature values in featureNames() order, float32 (the ONNX input dtype); imputed features are 0. */
  readonly values: Float32Array;
  /** 1 where the feature was computed from data, 0 where it was imputed. Same order as values. */
  readonly valid: Uint8Array;
  readonly validCount: number;
  /** Channels (including `<sensor>.magnitude`) whose features were imputed, in feature order. */
  readonly invalidChannels: readonly string[];
}

export interface FeaturePipeline {
  readonly id: FeaturePipelineId;
  /** Resolved parameters, frozen, keys sorted. */
  readonly params: Readonly<FeatureParams>;
  /** SHA-256 hex of the canonical JSON of params. */
  readonly paramsHash: string;
  /** { id, paramsHash }, ready for a bundle manifest. */
  readonly ref: FeaturePipelineRef;
  /** Feature names for these sensors, in vector order: `<channel>.<feature>`, e.g. `accel.x.rms`, `accel.magnitude.band3`. */
  featureNames(sensors: readonly SensorDescriptor[]): string[];
  /** Band edges in Hz for a fast channel of the given declared rate (bands + 1 values, 0 to Nyquist). */
  bandEdgesHz(rateHz: number): Float64Array;
  /** The feature vector of one window (float32, imputed features 0). */
  compute(window: Window, sensors: readonly SensorDescriptor[]): Float32Array;
  /** compute() plus the valid mask and which channels were imputed. */
  computeDetailed(window: Window, sensors: readonly SensorDescriptor[]): FeatureVector;
}

interface ChannelPlan {
  readonly name: string;
  /** Channel names to read: one for an axis, three for a magnitude. */
  readonly sources: readonly string[];
  readonly declaredRateHz: number;
  readonly fast: boolean;
  /** Band edges for fast channels with bands, else undefined. */
  readonly edges: Float64Array | undefined;
  readonly offset: number;
  readonly count: number;
}

interface Plan {
  readonly names: string[];
  readonly channels: readonly ChannelPlan[];
  readonly size: number;
}

function buildPlan(params: Readonly<FeatureParams>, sensors: readonly SensorDescriptor[]): Plan {
  // Sorted by wire id, so a device that lists the same sensors in another HELLO order gets the same vector.
  const sorted = [...sensors].sort((a, b) => a.id - b.id);
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as SensorDescriptor).id === (sorted[i - 1] as SensorDescriptor).id) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `feature pipeline: duplicate sensor id ${(sorted[i] as SensorDescriptor).id}`,
      );
    }
  }
  const names: string[] = [];
  const channels: ChannelPlan[] = [];
  const add = (name: string, sources: string[], sensor: SensorDescriptor, bands: boolean): void => {
    const fast = sensor.rateHz >= params.fastRateHz;
    const edges = fast && bands ? bandEdgesHz(params, sensor.rateHz / 2) : undefined;
    const feats: string[] = fast ? [...fastFeatureNames] : [...slowFeatureNames];
    if (edges !== undefined) for (let b = 0; b < params.bands; b++) feats.push(`band${b}`);
    channels.push({
      name,
      sources,
      declaredRateHz: sensor.rateHz,
      fast,
      edges,
      offset: names.length,
      count: feats.length,
    });
    for (const f of feats) names.push(`${name}.${f}`);
  };
  for (const sensor of sorted) {
    const chans = channelNames(sensor);
    for (const c of chans) add(c, [c], sensor, true);
    if (params.magnitude && chans.length === 3)
      add(`${sensor.name}.magnitude`, chans, sensor, params.magnitudeBands);
  }
  return { names, channels, size: names.length };
}

function grow(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(Math.max(n, buf.length * 2));
}

/**
 * Creates the pipeline. Throws EdgeloopError for unknown or invalid parameters (bad config). The returned
 * object keeps scratch buffers, so reuse one per process rather than creating one per window.
 */
export function createFeaturePipeline(input: Partial<FeatureParams> = {}): FeaturePipeline {
  const params = resolveFeatureParams(input);
  const paramsHash = featureParamsHash(params);
  const spectrum = new SpectrumWorkspace();
  const plans = new WeakMap<readonly SensorDescriptor[], Plan>();
  let scratch: Float64Array = new Float64Array(1024);
  const tmp = new Float64Array(Math.max(fastFeatureNames.length, slowFeatureNames.length, params.bands));

  const planFor = (sensors: readonly SensorDescriptor[]): Plan => {
    let p = plans.get(sensors);
    if (p === undefined) {
      p = buildPlan(params, sensors);
      plans.set(sensors, p);
    }
    return p;
  };

  /** Copies the finite samples of the plan's source(s) into scratch; returns how many and the expected count. */
  const gather = (
    plan: ChannelPlan,
    byName: Map<string, ChannelWindow>,
  ): { n: number; expected: number; rateHz: number } => {
    const srcs = plan.sources.map((s) => byName.get(s));
    let len = Infinity;
    let expected = Infinity;
    let rateHz = plan.declaredRateHz;
    for (const c of srcs) {
      if (c === undefined) return { n: 0, expected: 0, rateHz };
      len = Math.min(len, c.values.length);
      expected = Math.min(expected, c.expected);
    }
    const first = srcs[0] as ChannelWindow;
    // The measured rate (CSV mode) places bins at their true frequencies; the declared rate is the fallback.
    if (Number.isFinite(first.rateHz) && first.rateHz > 0) rateHz = first.rateHz;
    scratch = grow(scratch, len);
    let n = 0;
    if (srcs.length === 1) {
      const v = first.values;
      for (let i = 0; i < len; i++) {
        const x = v[i] as number;
        if (Number.isFinite(x)) scratch[n++] = x;
      }
    } else {
      // Axes of one sensor arrive together in each SAMPLES block, so index i is one instant on all three.
      const [a, b, c] = srcs.map((s) => (s as ChannelWindow).values) as [
        Float64Array,
        Float64Array,
        Float64Array,
      ];
      for (let i = 0; i < len; i++) {
        const m = Math.sqrt((a[i] as number) ** 2 + (b[i] as number) ** 2 + (c[i] as number) ** 2);
        if (Number.isFinite(m)) scratch[n++] = m;
      }
    }
    return { n, expected: Number.isFinite(expected) ? expected : 0, rateHz };
  };

  const computeDetailed = (window: Window, sensors: readonly SensorDescriptor[]): FeatureVector => {
    const plan = planFor(sensors);
    const values = new Float32Array(plan.size);
    const valid = new Uint8Array(plan.size);
    const invalidChannels: string[] = [];
    let validCount = 0;
    const byName = new Map<string, ChannelWindow>();
    for (const c of window.channels) byName.set(c.channel, c);

    for (const cp of plan.channels) {
      const { n, expected, rateHz } = gather(cp, byName);
      const need = Math.max(1, Math.ceil(params.minCoverage * expected));
      if (n < need) {
        invalidChannels.push(cp.name);
        continue; // values and valid stay 0: the imputation rule
      }
      const s = timeStats(scratch, n);
      let k = 0;
      if (cp.fast) {
        tmp[k++] = s.mean;
        tmp[k++] = s.std;
        tmp[k++] = s.rms;
        tmp[k++] = s.peakToPeak;
        tmp[k++] = s.skewness;
        tmp[k++] = s.kurtosis;
        tmp[k++] = s.crestFactor;
      } else {
        tmp[k++] = s.mean;
        tmp[k++] = s.min;
        tmp[k++] = s.max;
        tmp[k++] = s.last;
      }
      for (let i = 0; i < k; i++) {
        const v = Math.fround(tmp[i] as number);
        // Finite inputs can still overflow float32 (or x² overflow float64); such a feature is imputed too.
        if (Number.isFinite(v)) {
          values[cp.offset + i] = v;
          valid[cp.offset + i] = 1;
          validCount++;
        }
      }
      if (cp.edges !== undefined) {
        spectrum.bandValues(scratch, n, s.mean, rateHz, cp.edges, params.bandValue, tmp, 0);
        for (let b = 0; b < params.bands; b++) {
          const v = Math.fround(tmp[b] as number);
          if (Number.isFinite(v)) {
            values[cp.offset + k + b] = v;
            valid[cp.offset + k + b] = 1;
            validCount++;
          }
        }
      }
    }
    return { values, valid, validCount, invalidChannels };
  };

  return Object.freeze({
    id: featurePipelineId,
    params,
    paramsHash,
    ref: Object.freeze({ id: featurePipelineId, paramsHash }),
    featureNames: (sensors: readonly SensorDescriptor[]) => [...planFor(sensors).names],
    bandEdgesHz: (rateHz: number) => bandEdgesHz(params, rateHz / 2),
    compute: (window: Window, sensors: readonly SensorDescriptor[]) =>
      computeDetailed(window, sensors).values,
    computeDetailed,
  });
}

/**
 * The pipeline a bundle asks for, or why this build cannot reproduce it. `params` are the settings the
 * bundle was trained with (defaults when omitted); their hash must equal ref.paramsHash.
 */
export function resolveFeaturePipeline(
  ref: FeaturePipelineRef,
  params: Partial<FeatureParams> = {},
): Result<FeaturePipeline> {
  if (ref.id !== featurePipelineId) {
    return fail(
      'EDGELOOP_ERR_FEATURE_PIPELINE_UNKNOWN',
      `bundle needs feature pipeline ${ref.id}; this build has ${featurePipelineId}`,
    );
  }
  let p: FeaturePipeline;
  try {
    p = createFeaturePipeline(params);
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_FEATURE_PARAMS_MISMATCH',
      `feature params rejected: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (p.paramsHash !== ref.paramsHash) {
    return fail(
      'EDGELOOP_ERR_FEATURE_PARAMS_MISMATCH',
      `bundle needs feature params hash ${ref.paramsHash}; these params hash to ${p.paramsHash}`,
    );
  }
  return ok(p);
}
