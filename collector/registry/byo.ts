// Bring your own model (issue #3 section 5, docs/model-bundle.md "Bring your own model"): packages an
// ONNX model made elsewhere (PyTorch, scikit-learn) into a bundle. The I/O signature and ONNX metadata
// are read from the model itself, the drift reference profile is computed from a dataset of feature rows,
// and golden cases are produced by running the model on the first rows, so the registry's push checks
// hold by construction and keep holding for as long as the model file is unchanged.

import onnxProto from 'onnx-proto';
import type { ManifestInput } from '../../shared/bundle/build.ts';
import { canonicalJsonBytes } from '../../shared/bundle/canonical-json.ts';
import {
  DEFAULT_GOLDEN_TOLERANCE,
  encodeGolden,
  GOLDEN_FILE,
  type GoldenCase,
  type GoldenTensor,
} from '../../shared/bundle/golden.ts';
import { tensorDtypes, type Metrics, type TensorSpec } from '../../shared/bundle/manifest.ts';
import {
  buildReferenceProfile,
  encodeReferenceProfile,
  REFERENCE_FILE,
  summarizeReference,
} from '../../shared/bundle/reference.ts';
import { labelCountProblem, probabilitiesOutput } from '../../shared/bundle/io-check.ts';
import { sha256Hex } from '../../shared/bundle/signing.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { resolveFeaturePipeline, type FeaturePipeline } from '../../shared/features/pipeline.ts';
// The dataset file is the feature CSV that `edgeloop features` writes (one reader for both).
export { parseFeatureCsv } from '../../shared/features/csv.ts';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import type {
  OnnxOutput,
  OnnxSession,
  OnnxSessionLoader,
  OnnxValueInfo,
} from '../../shared/platform/onnx.ts';
import { argmaxAt, sessionPredictor } from '../explain/predictor.ts';
import { explainTestSet, type TestExplanations } from '../explain/test-report.ts';
import { classificationMetrics } from '../training/metrics.ts';

const { onnx } = onnxProto;

export interface ByoModelInput {
  readonly onnx: Uint8Array;
  readonly name: string;
  readonly version: string;
  /** Class labels in the order of the probability columns. */
  readonly labels: readonly string[];
  readonly pipeline: { readonly id: string; readonly paramsHash: string };
  /** Feature rows from that pipeline, in time order; they become the reference profile and golden inputs. */
  readonly dataset: {
    readonly name: string;
    readonly featureNames: readonly string[];
    readonly rows: readonly (readonly number[])[];
    /** Per row, when the dataset has a `label` column: then report.json gets permutation importance. */
    readonly labels?: readonly string[];
  };
  /** Permutation-importance repeats over a labelled dataset. Default 5; 0 skips it. */
  readonly importanceRepeats?: number;
  /** Seeds the permutations. Default 1. */
  readonly seed?: number;
  /** Golden cases taken from the first dataset rows: an integer >= 1. Default 8. */
  readonly goldenRows?: number;
  /** Test metrics measured elsewhere (e.g. { macroF1: 0.91 }); the promotion gate reads macroF1. */
  readonly metrics?: Metrics;
  readonly description?: string;
  /** ISO-8601 time for createdAt and the lineage times. */
  readonly createdAt: string;
  readonly libraries?: Readonly<Record<string, string>>;
}

/** report.json of an imported model: permutation importance and per-state performance on its dataset. */
export interface ByoReport {
  readonly schema: 'edgeloop-byo-report-v1';
  readonly dataset: string;
  readonly rows: number;
  readonly accuracy: number;
  readonly macroF1: number;
  readonly importance: TestExplanations['importance'];
  readonly groupPerformance: TestExplanations['groupPerformance'];
}

/** The explanations of a labelled dataset (docs/explanations.md), or undefined when it has no labels. */
async function byoReport(
  input: ByoModelInput,
  model: OnnxSession,
  only: { readonly name: string; readonly shape: readonly (number | string)[] },
  outputs: readonly TensorSpec[],
): Promise<Result<ByoReport | undefined>> {
  const truth = input.dataset.labels;
  const repeats = input.importanceRepeats ?? 5;
  const out = probabilitiesOutput(outputs);
  if (truth === undefined || repeats === 0 || out === undefined) return ok(undefined);
  const index = new Map(input.labels.map((l, i) => [l, i]));
  const unknown = truth.find((l) => !index.has(l));
  if (unknown !== undefined)
    return fail(
      'EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH',
      `dataset label "${unknown}" is not one of the model's labels (${input.labels.join(', ')})`,
    );
  const { featureNames, rows } = input.dataset;
  const width = featureNames.length;
  const predictor = sessionPredictor(model, {
    input: only.name,
    output: out.name,
    width,
    classes: input.labels.length,
    ...(only.shape[0] === 1 ? { rowsPerRun: 1 } : {}),
  });
  const x = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    x.set(r, i * width);
  });
  const y = Int32Array.from(truth, (l) => index.get(l) as number);
  const explained = await explainTestSet({
    predictor,
    x,
    y,
    // No device column in a feature CSV: the whole dataset is one device group.
    rows: truth.map((label) => ({ group: input.dataset.name, label })),
    labels: input.labels,
    featureNames,
    seed: input.seed ?? 1,
    repeats,
  });
  if (!explained.ok) return explained;
  const probs = await predictor.predict(x, rows.length);
  if (!probs.ok) return probs;
  const c = input.labels.length;
  const m = classificationMetrics(
    y,
    Int32Array.from({ length: rows.length }, (_, i) => argmaxAt(probs.value, i * c, c)),
    input.labels,
  );
  return ok({
    schema: 'edgeloop-byo-report-v1',
    dataset: input.dataset.name,
    rows: rows.length,
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    ...explained.value,
  });
}

const bad = (detail: string): Result<never> => fail('EDGELOOP_ERR_REGISTRY_IO_MISMATCH', detail);

export const DEFAULT_GOLDEN_ROWS = 8;

/**
 * Why a dataset header is not the pipeline's feature names, in order, or undefined when it is (issue #8
 * §5: a header `f0..f191` was accepted, so the drift profile and the agent's feature check named features
 * that do not exist). The sensors are those of `catalogue` (the reference board by default) that the
 * header names, so a board with a subset of them (only the IMU, say) is checked too; the message names
 * the first wrong column.
 */
export function featureHeaderProblem(
  header: readonly string[],
  pipeline: FeaturePipeline,
  catalogue: readonly SensorDescriptor[] = referenceSensors,
): string | undefined {
  const named = new Set(header.map((h) => h.split('.')[0]));
  const expected = pipeline.featureNames(catalogue.filter((s) => named.has(s.name)));
  for (let i = 0; i < Math.max(header.length, expected.length); i++) {
    const have = header[i];
    const want = expected[i];
    if (have === want) continue;
    if (have === undefined)
      return `the header stops after ${header.length} columns; ${pipeline.id} continues with "${want ?? ''}"`;
    if (want === undefined)
      return expected.length === 0
        ? `column 1 is "${have}", which is not a feature name of ${pipeline.id} (they read like "${pipeline.featureNames(catalogue)[0] ?? ''}"; see docs/features.md)`
        : `column ${i + 1} is "${have}", past the ${expected.length} features ${pipeline.id} gives for these sensors`;
    return `column ${i + 1} is "${have}", ${pipeline.id} has "${want}" there (see docs/features.md for the order)`;
  }
  return undefined;
}

function toSpec(info: OnnxValueInfo): Result<TensorSpec> {
  if (!(tensorDtypes as readonly string[]).includes(info.dtype)) {
    return bad(
      `"${info.name}" is ${info.dtype === 'non-tensor' ? 'not a tensor (a sequence or map, e.g. ZipMap; export with zipmap disabled)' : `of dtype ${info.dtype}, which a bundle cannot describe`}`,
    );
  }
  // A dynamic dimension without a name (ONNX: neither dim_value nor dim_param, `[None, n]` from some
  // exporters) comes back from onnxruntime-node as "" (older builds: -1); the manifest names it instead,
  // since a manifest dimension is a size or a non-empty name (docs/registry-api.md).
  const shape = info.shape.map((d, i) =>
    d === '' || (typeof d === 'number' && d < 0) ? `${info.name}_dim${i}` : d,
  );
  return ok({ name: info.name, dtype: info.dtype as TensorSpec['dtype'], shape });
}

function goldenTensor(out: OnnxOutput): GoldenTensor {
  const data =
    out.dtype === 'bool'
      ? Array.from(out.data as Uint8Array, (v) => v !== 0)
      : Array.from(out.data as ArrayLike<number | bigint | string>, (v) =>
          typeof v === 'bigint' ? Number(v) : v,
        );
  return { dims: [...out.dims], data: data as GoldenTensor['data'] };
}

function onnxInfo(bytes: Uint8Array): {
  opset: number;
  irVersion: number;
  opsetImports: Record<string, number>;
  producer?: string;
} {
  const m = onnx.ModelProto.decode(bytes);
  const opsetImports: Record<string, number> = {};
  for (const o of m.opsetImport) opsetImports[o.domain ?? ''] = Number(String(o.version));
  return {
    opset: opsetImports[''] ?? opsetImports['ai.onnx'] ?? 1,
    irVersion: Number(String(m.irVersion)),
    opsetImports,
    ...(m.producerName
      ? { producer: `${m.producerName}${m.producerVersion ? ` ${m.producerVersion}` : ''}` }
      : {}),
  };
}

/** Builds the files and manifest input of a bundle for an imported model; sign with createSignedBundle. */
export async function packageOnnxModel(
  input: ByoModelInput,
  loadModel: OnnxSessionLoader,
): Promise<Result<{ readonly manifest: ManifestInput; readonly files: Map<string, Uint8Array> }>> {
  const { featureNames, rows } = input.dataset;
  const goldenRows = input.goldenRows ?? DEFAULT_GOLDEN_ROWS;
  if (!Number.isInteger(goldenRows) || goldenRows < 1)
    return fail('EDGELOOP_ERR_CONFIG_INVALID', `goldenRows must be an integer >= 1, got ${goldenRows}`);
  if (rows.length === 0) return fail('EDGELOOP_ERR_INPUT_READ', `dataset ${input.dataset.name} has no rows`);
  // Only a pipeline this build implements, with parameters it can reproduce, has names to check against.
  const pipeline = resolveFeaturePipeline(input.pipeline);
  if (pipeline.ok) {
    const why = featureHeaderProblem(featureNames, pipeline.value);
    if (why !== undefined)
      return fail('EDGELOOP_ERR_REGISTRY_FEATURES_MISMATCH', `dataset ${input.dataset.name}: ${why}`);
  }
  const ragged = rows.findIndex(
    (r) => r.length !== featureNames.length || r.some((v) => !Number.isFinite(v)),
  );
  if (ragged >= 0)
    return fail(
      'EDGELOOP_ERR_INPUT_READ',
      `dataset row ${ragged + 1} does not hold ${featureNames.length} finite numbers`,
    );
  const loaded = await loadModel(input.onnx);
  if (!loaded.ok) return fail('EDGELOOP_ERR_REGISTRY_ONNX_LOAD', loaded.message);
  const model = loaded.value;
  try {
    const only = model.inputs[0];
    if (model.inputs.length !== 1 || only === undefined)
      return bad(`the model has ${model.inputs.length} inputs; one feature-vector input is supported`);
    if (only.dtype !== 'float32' || only.shape.length !== 2)
      return bad(
        `input "${only.name}" is ${only.dtype} [${only.shape.join(', ')}], expected float32 [batch, features]`,
      );
    const width = only.shape[1];
    if (typeof width === 'number' && width >= 0 && width !== featureNames.length) {
      return bad(
        `input "${only.name}" takes ${width} features, the dataset has ${featureNames.length} columns`,
      );
    }
    const io: TensorSpec[] = [];
    for (const info of [...model.inputs, ...model.outputs]) {
      const spec = toSpec(info);
      if (!spec.ok) return spec;
      io.push(spec.value);
    }

    const cases: GoldenCase[] = [];
    for (const row of rows.slice(0, goldenRows)) {
      const out = await model.run({
        [only.name]: { dtype: 'float32', data: Float32Array.from(row), dims: [1, row.length] },
      });
      if (!out.ok)
        return fail(
          'EDGELOOP_ERR_REGISTRY_ONNX_LOAD',
          `the model does not run on a dataset row: ${out.message}`,
        );
      const outputs: Record<string, GoldenTensor> = {};
      for (const [name, value] of Object.entries(out.value)) outputs[name] = goldenTensor(value);
      // Feed what the model will see: float32-rounded values, so re-running reproduces bit for bit.
      cases.push({
        inputs: { [only.name]: { dims: [1, row.length], data: Array.from(Float32Array.from(row)) } },
        outputs,
      });
    }

    const outputs = io.slice(1);
    if (probabilitiesOutput(outputs) === undefined)
      return bad(
        'no float32 output named "probabilities" (or single float32 output) holds the class probabilities the agent reads',
      );
    const labels = labelCountProblem(outputs, input.labels, cases[0]?.outputs);
    if (labels !== undefined) return fail('EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH', labels);

    const profile = buildReferenceProfile(
      featureNames.map((name, j) => ({ name, values: rows.map((r) => r[j] as number) })),
    );
    if (!profile.ok) return profile;
    const datasetDigest = sha256Hex(canonicalJsonBytes({ featureNames, rows }));
    const files = new Map<string, Uint8Array>([
      ['model.onnx', input.onnx],
      [REFERENCE_FILE, encodeReferenceProfile(profile.value)],
      [GOLDEN_FILE, encodeGolden({ schemaVersion: 1, cases })],
    ]);
    const report = await byoReport(input, model, only, outputs);
    if (!report.ok) return report;
    if (report.value !== undefined)
      files.set('report.json', new TextEncoder().encode(`${JSON.stringify(report.value, null, 2)}\n`));
    const manifest: ManifestInput = {
      name: input.name,
      version: input.version,
      createdAt: input.createdAt,
      ...(input.description === undefined ? {} : { description: input.description }),
      io: { inputs: io.slice(0, 1), outputs },
      pipeline: { id: input.pipeline.id, paramsHash: input.pipeline.paramsHash },
      labels: [...input.labels],
      reference: summarizeReference(profile.value),
      metrics: input.metrics ?? {},
      golden: { path: GOLDEN_FILE, cases: cases.length, tolerance: DEFAULT_GOLDEN_TOLERANCE },
      lineage: {
        origin: 'imported',
        datasets: [
          {
            name: input.dataset.name,
            digest: datasetDigest,
            rows: rows.length,
            splitSeed: null,
            partition: 'reference',
          },
        ],
        code: { commit: null, dirty: null },
        hyperparameters: {},
        trials: [],
        startedAt: input.createdAt,
        endedAt: input.createdAt,
        libraries: { ...(input.libraries ?? {}) },
      },
      onnx: onnxInfo(input.onnx),
    };
    return ok({ manifest, files });
  } finally {
    await model.close();
  }
}
