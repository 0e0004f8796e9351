// The model of `edgeloop sim --fleet --model` (docs/firmware-sim.md §Fleet mode): every simulated device
// runs the bundle's ONNX model on its window as the agent does (agent/inference/onnx-engine.ts): the
// bundle's feature pipeline computes the float32 vector, one [1, features] tensor goes into the one input,
// the probabilities output is read in manifest label order, clamped to [0, 1], and the label is the
// argmax. The runtimes never import each other, so this is the agent's rule rebuilt on the shared pieces
// (shared/bundle/io-check.ts probabilitiesOutput, the shared pipeline), not the agent's engine. One session
// serves every device of the process; onnxruntime runs are serialised by the caller's awaits.

import { performance } from 'node:perf_hooks';
import { probabilitiesOutput } from '../shared/bundle/io-check.ts';
import type { Manifest } from '../shared/bundle/manifest.ts';
import { fail, ok, type Result } from '../shared/errors.ts';
import { resolveFeaturePipeline, type FeaturePipeline } from '../shared/features/pipeline.ts';
import type { ModelRef } from '../shared/mqtt/schemas.ts';
import type { OnnxSession } from '../shared/platform/onnx.ts';
import type { Window } from '../shared/samples.ts';
import type { SensorDescriptor } from '../shared/sensors.ts';

/** One window's prediction, as the telemetry builder takes it, plus the vector the model saw. */
export interface FleetPrediction {
  readonly model: ModelRef;
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
  /** Features plus session run, ms (as the agent measures it). */
  readonly latencyMs: number;
  readonly features: Float32Array;
}

export interface FleetModel {
  readonly model: ModelRef;
  /** The manifest digest (SHA-256 hex of the canonical manifest): the identity of the bundle. */
  readonly digest: string;
  /** The bundle's feature pipeline (its id and parameters hash were checked against the manifest). */
  readonly pipeline: FeaturePipeline;
  /** Whether these sensors give the model's input vector (width and every reference feature). */
  fits(sensors: readonly SensorDescriptor[]): Result<void>;
  predict(window: Window, sensors: readonly SensorDescriptor[]): Promise<Result<FleetPrediction>>;
  /** Runs the model on a vector already computed by its pipeline (replayed windows, fleet-device.ts). */
  predictVector(features: Float32Array, startMs?: number): Promise<Result<FleetPrediction>>;
  /** Releases the session. Idempotent. */
  close(): Promise<void>;
}

/** Builds the model over a loaded session; the session is closed by close(), or by the caller on failure. */
export function createFleetModel(
  manifest: Manifest,
  session: OnnxSession,
  digest: string,
): Result<FleetModel> {
  const bad = (d: string) => fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', d);
  const input = manifest.io.inputs.length === 1 ? manifest.io.inputs[0] : undefined;
  if (input?.dtype !== 'float32' || input.shape.length !== 2)
    return bad('the model must take one float32 [batch, features] input, as the agent feeds it');
  const widthDim = input.shape[1];
  const width = typeof widthDim === 'number' ? widthDim : undefined;
  const probs = probabilitiesOutput(manifest.io.outputs);
  if (probs === undefined) return bad('no float32 output named "probabilities" (or single float32 output)');
  const resolved = resolveFeaturePipeline(manifest.pipeline);
  if (!resolved.ok) return resolved;
  const pipeline = resolved.value;
  const labels = [...manifest.labels];
  const model = { name: manifest.name, version: manifest.version };
  const checked = new WeakMap<readonly SensorDescriptor[], Result<void>>();

  const fits = (sensors: readonly SensorDescriptor[]): Result<void> => {
    let r = checked.get(sensors);
    if (r !== undefined) return r;
    const names = pipeline.featureNames(sensors);
    const have = new Set(names);
    const missing = manifest.reference.features.filter((f) => !have.has(f));
    r =
      width !== undefined && names.length !== width
        ? fail(
            'EDGELOOP_ERR_MODEL_FEATURES_MISMATCH',
            `sensors give ${names.length} features, model takes ${width}`,
          )
        : missing.length > 0
          ? fail('EDGELOOP_ERR_MODEL_FEATURES_MISMATCH', `sensors lack ${missing.length} model features`)
          : ok(undefined);
    checked.set(sensors, r);
    return r;
  };

  let closed = false;
  const predictVector = async (
    features: Float32Array,
    t0 = performance.now(),
  ): Promise<Result<FleetPrediction>> => {
    const out = await session.run({
      [input.name]: { dtype: 'float32', data: features, dims: [1, features.length] },
    });
    if (!out.ok) return out;
    const p = out.value[probs.name]?.data;
    if (!(p instanceof Float32Array) || p.length !== labels.length)
      return fail('EDGELOOP_ERR_ONNX_RUN', `output "${probs.name}" does not hold ${labels.length} scores`);
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let i = 0; i < labels.length; i++) {
      const v = p[i] as number;
      if (!Number.isFinite(v)) return fail('EDGELOOP_ERR_ONNX_RUN', `score ${i} is not finite`);
      // float32 softmax can overshoot 1 by an ulp; the agent clamps the same way.
      probabilities[labels[i] as string] = Math.min(1, Math.max(0, v));
      if (v > (p[best] as number)) best = i;
    }
    return ok({
      model,
      label: labels[best] as string,
      probabilities,
      latencyMs: performance.now() - t0,
      features,
    });
  };
  return ok({
    model,
    digest,
    pipeline,
    fits,
    async predict(window, sensors) {
      const t0 = performance.now();
      const fit = fits(sensors);
      if (!fit.ok) return fit;
      return predictVector(pipeline.compute(window, sensors), t0);
    },
    predictVector,
    async close() {
      if (closed) return;
      closed = true;
      await session.close();
    },
  });
}
