// The onnxruntime implementation of InferenceEngine. It is built from a verified bundle: the manifest fixes
// the input (one float32 tensor [batch, features]), the probabilities output and the labels, and the
// pipeline ref fixes the feature code and parameters. A device whose sensors give another feature vector
// than the model's input is refused per window with EDGELOOP_ERR_MODEL_FEATURES_MISMATCH, never fed.

import { performance } from 'node:perf_hooks';
import type { Manifest, TensorSpec } from '../../shared/bundle/manifest.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { FeatureParams } from '../../shared/features/params.ts';
import { resolveFeaturePipeline, type FeaturePipeline } from '../../shared/features/pipeline.ts';
import type { Window } from '../../shared/samples.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';
import type { OnnxSession } from '../../shared/platform/onnx.ts';
import type { InferenceEngine, Prediction } from './engine.ts';

/** How the engine reads the model's tensors, derived from the manifest once. */
export interface ModelBinding {
  readonly input: string;
  /** Fixed feature width, or undefined when the manifest leaves it dynamic. */
  readonly width: number | undefined;
  readonly probabilities: string;
}

/** Finds the input and the probabilities output in the manifest, or says why the model cannot serve. */
export function bindModel(manifest: Manifest): Result<ModelBinding> {
  const bad = (d: string) => fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', d);
  if (manifest.io.inputs.length !== 1)
    return bad(
      `the agent feeds one feature tensor; the manifest declares ${manifest.io.inputs.length} inputs`,
    );
  const input = manifest.io.inputs[0] as TensorSpec;
  if (input.dtype !== 'float32' || input.shape.length !== 2)
    return bad(
      `input "${input.name}" must be float32 [batch, features], manifest says ${input.dtype} [${input.shape.join(', ')}]`,
    );
  const batch = input.shape[0] as number | string;
  if (typeof batch === 'number' && batch !== 1)
    return bad(`input "${input.name}" has a fixed batch of ${batch}; the agent runs batch 1`);
  const widthDim = input.shape[1] as number | string;
  // The trainer names it "probabilities"; a model brought from elsewhere may have one float output only.
  const floats = manifest.io.outputs.filter((o) => o.dtype === 'float32');
  const probs =
    floats.find((o) => o.name === 'probabilities') ?? (floats.length === 1 ? floats[0] : undefined);
  if (probs === undefined)
    return bad(
      'no float32 output named "probabilities" (or single float32 output) to read class scores from',
    );
  const classes = probs.shape[probs.shape.length - 1];
  if (typeof classes === 'number' && classes !== manifest.labels.length)
    return bad(
      `output "${probs.name}" has ${classes} classes, the manifest has ${manifest.labels.length} labels`,
    );
  return ok({
    input: input.name,
    width: typeof widthDim === 'number' ? widthDim : undefined,
    probabilities: probs.name,
  });
}

/**
 * Whether these sensors give the vector the model was trained on: the same width, and every feature of
 * the drift reference profile (which `edgeloop train` writes for all features) among the names.
 */
export function checkFeatures(
  manifest: Manifest,
  binding: ModelBinding,
  names: readonly string[],
): Result<void> {
  if (binding.width !== undefined && names.length !== binding.width) {
    return fail(
      'EDGELOOP_ERR_MODEL_FEATURES_MISMATCH',
      `this device's sensors give ${names.length} features, ${manifest.name}@${manifest.version} takes ${binding.width}`,
    );
  }
  const have = new Set(names);
  const missing = manifest.reference.features.filter((f) => !have.has(f));
  if (missing.length > 0) {
    return fail(
      'EDGELOOP_ERR_MODEL_FEATURES_MISMATCH',
      `this device's sensors do not give ${missing.length} of the model's features (e.g. ${missing.slice(0, 3).join(', ')})`,
    );
  }
  return ok(undefined);
}

export interface OnnxEngineInput {
  readonly manifest: Manifest;
  readonly manifestDigest: string;
  readonly session: OnnxSession;
  /** Feature parameters when the bundle was trained on non-default ones (their hash must match). */
  readonly featureParams?: Partial<FeatureParams>;
}

/** Builds the engine. Fails (and leaves the session open for the caller) when the pipeline or I/O cannot work. */
export function createOnnxEngine(input: OnnxEngineInput): Result<InferenceEngine> {
  const { manifest, session } = input;
  const binding = bindModel(manifest);
  if (!binding.ok) return binding;
  const resolved = resolveFeaturePipeline(manifest.pipeline, input.featureParams ?? {});
  if (!resolved.ok) return resolved;
  const pipeline: FeaturePipeline = resolved.value;
  const labels = [...manifest.labels];
  const model = { name: manifest.name, version: manifest.version };
  const { input: inputName, probabilities: probsName } = binding.value;
  // The pipeline caches its plan per sensors array; the check result is cached the same way.
  const checked = new WeakMap<readonly SensorDescriptor[], Result<void>>();

  const infer = async (window: Window, sensors: readonly SensorDescriptor[]): Promise<Result<Prediction>> => {
    const t0 = performance.now();
    let check = checked.get(sensors);
    if (check === undefined) {
      check = checkFeatures(manifest, binding.value, pipeline.featureNames(sensors));
      checked.set(sensors, check);
    }
    if (!check.ok) return check;
    const features = pipeline.compute(window, sensors);
    const out = await session.run({
      [inputName]: { dtype: 'float32', data: features, dims: [1, features.length] },
    });
    if (!out.ok) return out;
    const p = out.value[probsName];
    if (p === undefined || !(p.data instanceof Float32Array) || p.data.length !== labels.length) {
      return fail(
        'EDGELOOP_ERR_ONNX_RUN',
        `output "${probsName}" is missing or does not hold ${labels.length} float32 scores`,
      );
    }
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let i = 0; i < labels.length; i++) {
      const v = p.data[i] as number;
      if (!Number.isFinite(v)) return fail('EDGELOOP_ERR_ONNX_RUN', `score ${i} is not finite`);
      probabilities[labels[i] as string] = Math.min(1, Math.max(0, v));
      if (v > (p.data[best] as number)) best = i;
    }
    return ok({
      model,
      label: labels[best] as string,
      labelIndex: best,
      probabilities,
      latencyMs: performance.now() - t0,
      features,
    });
  };

  return ok({
    model,
    manifestDigest: input.manifestDigest,
    labels,
    featurePipelineId: pipeline.id,
    featureNames: (sensors) => pipeline.featureNames(sensors),
    infer,
    close: () => session.close(),
  });
}
