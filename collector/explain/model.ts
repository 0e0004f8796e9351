// A model opened for explanations (docs/explanations.md): its onnxruntime session behind a BatchPredictor,
// its reference profile (the baseline and quantile space), and what its test report measured (calibration
// for the performance estimate). Read from any bundle through a file reader, so the collector (registry
// blobs) and `edgeloop explain --bundle` (a directory) open models the same way.

import { modelFile, type Manifest } from '../../shared/bundle/manifest.ts';
import {
  parseReferenceProfile,
  type FeatureReference,
  type ReferenceProfile,
} from '../../shared/bundle/reference.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import { baselineRow, referenceInInputOrder } from './baseline.ts';
import { featureGroups, type FeatureGroup } from './groups.ts';
import { onnxPredictor, type BatchPredictor } from './predictor.ts';

export interface ModelLayout {
  /** The model's input feature names, in input order (what baseline, scales and groups follow). */
  readonly featureNames: readonly string[];
  /**
   * For each model input, its position in the window's names; null when the window's order is the
   * model's. Use `inModelOrder` to feed a window's values.
   */
  readonly order: Int32Array | null;
  readonly baseline: Float32Array;
  /** Reference scale per feature: 1.4826 MAD, else the std (0 when the feature never varied). */
  readonly scales: Float32Array;
  readonly groups: readonly FeatureGroup[];
  /** The reference statistics of each input feature, in input order. */
  readonly reference: readonly FeatureReference[];
}

export interface ExplainModel {
  readonly ref: ModelRef;
  readonly labels: readonly string[];
  readonly predictor: BatchPredictor;
  readonly profile: ReferenceProfile;
  /** The model's input feature names (the reference profile's, which training writes for every input). */
  readonly featureNames: readonly string[];
  /** Expected calibration error from the test metrics (manifest metrics.ece), or null. */
  readonly ece: number | null;
  /** Test accuracy from the manifest metrics, or null. */
  readonly testAccuracy: number | null;
  /** The bundle's report.json, parsed, or null (for its importance and per-group performance). */
  readonly report: unknown;
  /** Baseline and groups for a window's feature names (cached per name list). */
  layout(featureNames: readonly string[]): Result<ModelLayout>;
  close(): Promise<void>;
}

const decoder = new TextDecoder();

const num = (m: unknown, key: string): number | null => {
  const v = typeof m === 'object' && m !== null ? (m as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/** A window's values in the model's input order (a copy only when the orders differ). */
export function inModelOrder(layout: ModelLayout, values: Float32Array): Float32Array {
  const order = layout.order;
  return order === null ? values : Float32Array.from(order, (j) => values[j] as number);
}

function layoutFor(
  manifest: Manifest,
  profile: ReferenceProfile,
  featureNames: readonly string[],
  names: readonly string[],
): Result<ModelLayout> {
  const model = `${manifest.name}@${manifest.version}`;
  if (names.length !== featureNames.length)
    return fail(
      'EDGELOOP_ERR_EXPLAIN_INPUT',
      `the window has ${names.length} features, ${model} takes ${featureNames.length}`,
    );
  const position = new Map(names.map((n, i) => [n, i]));
  const missing = featureNames.filter((n) => !position.has(n));
  if (missing.length > 0)
    return fail(
      'EDGELOOP_ERR_EXPLAIN_INPUT',
      `the window lacks ${missing.length} of ${model}'s features (e.g. ${missing.slice(0, 3).join(', ')})`,
    );
  const same = featureNames.every((n, i) => names[i] === n);
  const ref = referenceInInputOrder(profile, featureNames);
  if (!ref.ok) return ref;
  return ok({
    featureNames,
    order: same ? null : Int32Array.from(featureNames, (n) => position.get(n) as number),
    baseline: baselineRow(ref.value),
    scales: Float32Array.from(ref.value, (f) => (f.mad > 0 ? 1.4826 * f.mad : f.std)),
    groups: featureGroups(featureNames),
    reference: ref.value,
  });
}

/** Opens a verified bundle's model for explanations. `read` returns a bundle file's bytes by path. */
export async function openExplainModel(
  manifest: Manifest,
  read: (path: string) => Uint8Array | undefined,
  load: OnnxSessionLoader,
): Promise<Result<ExplainModel>> {
  const unavailable = (why: string) =>
    fail('EDGELOOP_ERR_EXPLAIN_UNAVAILABLE', `${manifest.name}@${manifest.version}: ${why}`);
  const refBytes = read(manifest.reference.path);
  if (refBytes === undefined) return unavailable(`no reference file ${manifest.reference.path}`);
  let profileJson: unknown;
  try {
    profileJson = JSON.parse(decoder.decode(refBytes));
  } catch (err) {
    return unavailable(`${manifest.reference.path} is not JSON: ${(err as Error).message}`);
  }
  const profile = parseReferenceProfile(profileJson);
  if (!profile.ok) return unavailable(profile.message);
  const modelBytes = read(modelFile(manifest).path);
  if (modelBytes === undefined) return unavailable('no model file');
  let report: unknown = null;
  const reportBytes = read('report.json');
  if (reportBytes !== undefined) {
    try {
      report = JSON.parse(decoder.decode(reportBytes));
    } catch {
      report = null;
    }
  }
  const featureNames = manifest.reference.features;
  const session = await load(modelBytes);
  if (!session.ok) return session;
  const predictor = onnxPredictor(session.value, manifest, featureNames.length);
  if (!predictor.ok) {
    await session.value.close();
    return predictor;
  }
  const layouts = new Map<string, Result<ModelLayout>>();
  return ok({
    ref: { name: manifest.name, version: manifest.version },
    labels: manifest.labels,
    predictor: predictor.value,
    profile: profile.value,
    featureNames,
    ece: num(manifest.metrics, 'ece'),
    testAccuracy: num(manifest.metrics, 'accuracy'),
    report,
    layout(names) {
      const key = names.join(',');
      const hit = layouts.get(key);
      if (hit !== undefined) return hit;
      const r = layoutFor(manifest, profile.value, featureNames, names);
      if (layouts.size > 16) layouts.clear();
      layouts.set(key, r);
      return r;
    },
    close: () => session.value.close(),
  });
}
