// The one builder of small, real ONNX models and signed bundles for tests (issue #7 §4 "one test ONNX
// fixture"). Graphs are made with onnx-proto the way an exporter writes them, not by our trainer, so they
// double as bring-your-own models; golden outputs come from running them in onnxruntime-node through the
// platform adapter, recorded as the bundle tooling records them (shared/platform/golden.ts).
// The registry fixture (test/integration/registry-fixture.ts) and the agent model fixture
// (test/integration/agent-model-fixture.ts) wrap it with their own sizes, servers and harnesses.

import onnxProto from 'onnx-proto';
import { createSignedBundle, type ManifestInput, type SignedBundle } from '../../shared/bundle/build.ts';
import { encodeGolden, GOLDEN_FILE, type GoldenData } from '../../shared/bundle/golden.ts';
import { goldenTensorFrom } from '../../shared/platform/golden.ts';
import type { IoSignature } from '../../shared/bundle/manifest.ts';
import {
  buildReferenceProfile,
  encodeReferenceProfile,
  REFERENCE_FILE,
  summarizeReference,
  type ReferenceProfile,
} from '../../shared/bundle/reference.ts';
import type { SigningKeyPair } from '../../shared/bundle/signing.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';

const { onnx } = onnxProto;
const INT = onnx.AttributeProto.AttributeType.INT;

/** A dimension: a name (dim_param), a size (dim_value), or null for neither (`[None, n]` exporters). */
export type OnnxDim = string | number | null;

function floatTensor(name: string, dims: number[], values: readonly number[]) {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
}

function valueInfo(name: string, elemType: number, dims: readonly OnnxDim[]) {
  const dim = (d: OnnxDim) => (d === null ? {} : typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } },
  });
}

interface GraphParts {
  readonly name: string;
  readonly initializer: ReturnType<typeof floatTensor>[];
  readonly node: ReturnType<typeof onnx.NodeProto.create>[];
  readonly input: ReturnType<typeof valueInfo>[];
  readonly output: ReturnType<typeof valueInfo>[];
}

/** IR 8 and default-domain opset 17, as our trainer exports (collector/training/onnx-export.ts). */
function encodeModel(graph: GraphParts, producer: { name: string; version?: string }): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: producer.name,
    ...(producer.version === undefined ? {} : { producerVersion: producer.version }),
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface SoftmaxOnnxOptions {
  readonly features: number;
  readonly classes: number;
  /** Row-major [features, classes]. */
  readonly weights: readonly number[];
  /** [classes]. */
  readonly bias: readonly number[];
  /** The batch dimension. Default 'N'. */
  readonly batch?: OnnxDim;
  /** Add the int64 ArgMax output "label" [batch]. Default true. */
  readonly label?: boolean;
  readonly producerName?: string;
  readonly producerVersion?: string;
}

/** features[batch,F] -MatMul(W)-Add(b)-Softmax-> probabilities[batch,C]; ArgMax -> label[batch] (int64). */
export function softmaxOnnx(o: SoftmaxOnnxOptions): Uint8Array {
  const batch = o.batch === undefined ? 'N' : o.batch;
  const withLabel = o.label ?? true;
  if (o.weights.length !== o.features * o.classes || o.bias.length !== o.classes)
    throw new Error('softmaxOnnx: weights must be [features, classes] and bias [classes]');
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  return encodeModel(
    {
      name: 'softmax',
      initializer: [
        floatTensor('w', [o.features, o.classes], o.weights),
        floatTensor('b', [o.classes], o.bias),
      ],
      node: [
        onnx.NodeProto.create({ opType: 'MatMul', input: ['features', 'w'], output: ['mm'] }),
        onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'b'], output: ['logits'] }),
        onnx.NodeProto.create({
          opType: 'Softmax',
          input: ['logits'],
          output: ['probabilities'],
          attribute: [{ name: 'axis', i: -1, type: INT }],
        }),
        ...(withLabel
          ? [
              onnx.NodeProto.create({
                opType: 'ArgMax',
                input: ['probabilities'],
                output: ['label'],
                attribute: [
                  { name: 'axis', i: 1, type: INT },
                  { name: 'keepdims', i: 0, type: INT },
                ],
              }),
            ]
          : []),
      ],
      input: [valueInfo('features', FLOAT, [batch, o.features])],
      output: [
        valueInfo('probabilities', FLOAT, [batch, o.classes]),
        ...(withLabel ? [valueInfo('label', INT64, [batch])] : []),
      ],
    },
    {
      name: o.producerName ?? 'edgeloop-test',
      ...(o.producerVersion === undefined ? {} : { version: o.producerVersion }),
    },
  );
}

/** The manifest signature of softmaxOnnx with a batch named 'N' and the label output. */
export function softmaxIo(features: number, classes: number): IoSignature {
  return {
    inputs: [{ name: 'features', dtype: 'float32', shape: ['N', features] }],
    outputs: [
      { name: 'probabilities', dtype: 'float32', shape: ['N', classes] },
      { name: 'label', dtype: 'int64', shape: ['N'] },
    ],
  };
}

/** features[N,F] -Greater(threshold)-> above[N,F] (bool): a model whose only output is a bool tensor. */
export function greaterOnnx(features: number, threshold = 0): Uint8Array {
  const { FLOAT, BOOL } = onnx.TensorProto.DataType;
  return encodeModel(
    {
      name: 'greater',
      initializer: [floatTensor('threshold', [], [threshold])],
      node: [
        onnx.NodeProto.create({ opType: 'Greater', input: ['features', 'threshold'], output: ['above'] }),
      ],
      input: [valueInfo('features', FLOAT, ['N', features])],
      output: [valueInfo('above', BOOL, ['N', features])],
    },
    { name: 'edgeloop-test' },
  );
}

export function greaterIo(features: number): IoSignature {
  return {
    inputs: [{ name: 'features', dtype: 'float32', shape: ['N', features] }],
    outputs: [{ name: 'above', dtype: 'bool', shape: ['N', features] }],
  };
}

/**
 * Runs the model once per row (input "features", float32 [1, F]) and records every output as a golden
 * case, as bundle tooling does.
 */
export async function goldenFor(
  model: Uint8Array,
  rows: readonly (readonly number[] | Float32Array)[],
): Promise<GoldenData> {
  const s = await loadOnnxSession(model);
  if (!s.ok) throw new Error(s.message);
  const cases = [];
  try {
    for (const row of rows) {
      const data = Float32Array.from(row);
      const out = await s.value.run({ features: { dtype: 'float32', data, dims: [1, data.length] } });
      if (!out.ok) throw new Error(out.message);
      const outputs = Object.fromEntries(Object.entries(out.value).map(([k, v]) => [k, goldenTensorFrom(v)]));
      cases.push({ inputs: { features: { dims: [1, data.length], data: Array.from(row) } }, outputs });
    }
  } finally {
    await s.value.close();
  }
  return { schemaVersion: 1, cases };
}

/** Adds `shift` to every value of one numeric golden output, so the model no longer reproduces it. */
export function shiftGolden(golden: GoldenData, output: string, shift: number): void {
  for (const c of golden.cases) {
    const t = c.outputs[output];
    if (t === undefined) throw new Error(`no golden output "${output}"`);
    t.data = (t.data as number[]).map((v) => v + shift);
  }
}

/** A reference profile of smooth, distinct columns (sin waves), one per name. */
export function sineReference(names: readonly string[], rows: number): ReferenceProfile {
  const cols = names.map((name, j) => ({
    name,
    values: Array.from({ length: rows }, (_, i) => Math.sin(i * 0.37 + j)),
  }));
  const r = buildReferenceProfile(cols, { sampleSize: 50 });
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

export interface TestBundleInput {
  readonly name: string;
  readonly version: string;
  readonly model: Uint8Array;
  readonly golden: GoldenData;
  readonly io: IoSignature;
  readonly labels: readonly string[];
  readonly reference: ReferenceProfile;
  readonly pipeline: ManifestInput['pipeline'];
  /** Files beside model, reference and golden (a report, say). */
  readonly extraFiles?: ReadonlyMap<string, Uint8Array>;
  readonly macroF1?: number;
  readonly description?: string;
}

/** Signs a complete bundle (model.onnx, reference, golden) with fixed dates and an 'imported' lineage. */
export function signTestBundle(key: SigningKeyPair, b: TestBundleInput): SignedBundle {
  const files = new Map<string, Uint8Array>([
    ['model.onnx', b.model],
    [REFERENCE_FILE, encodeReferenceProfile(b.reference)],
    [GOLDEN_FILE, encodeGolden(b.golden)],
    ...(b.extraFiles ?? new Map<string, Uint8Array>()),
  ]);
  const input: ManifestInput = {
    name: b.name,
    version: b.version,
    createdAt: '2026-01-02T03:04:05.000Z',
    ...(b.description === undefined ? {} : { description: b.description }),
    io: b.io,
    pipeline: b.pipeline,
    labels: [...b.labels],
    reference: summarizeReference(b.reference),
    metrics: { accuracy: 0.95, macroF1: b.macroF1 ?? 0.93 },
    golden: {
      path: GOLDEN_FILE,
      cases: b.golden.cases.length,
      tolerance: { absolute: 1e-5, relative: 1e-4 },
    },
    lineage: {
      origin: 'imported',
      datasets: [
        { name: 'lab', digest: 'b'.repeat(64), rows: b.reference.rows, splitSeed: 7, partition: 'test' },
      ],
      code: { commit: null, dirty: null },
      hyperparameters: {},
      trials: [],
      startedAt: '2026-01-02T03:00:00.000Z',
      endedAt: '2026-01-02T03:04:00.000Z',
      libraries: { 'onnx-proto': '8.0.1' },
    },
    onnx: { opset: 17, irVersion: 8 },
  };
  const r = createSignedBundle(input, files, key.privateKeyPem);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

export interface GoldenBundleInput extends Omit<TestBundleInput, 'golden'> {
  /** Rows the golden cases run (input "features", float32 [1, F]). */
  readonly goldenRows: readonly (readonly number[] | Float32Array)[];
  /** The model the golden outputs come from. Default `model`; another one makes a bundle that fails. */
  readonly goldenModel?: Uint8Array;
  /** Add this to every golden probability, so the model no longer reproduces them. */
  readonly goldenShift?: number;
}

/** goldenFor + shiftGolden + signTestBundle: a signed bundle whose golden file comes from running it. */
export async function signGoldenBundle(key: SigningKeyPair, b: GoldenBundleInput): Promise<SignedBundle> {
  const { goldenRows, goldenModel, goldenShift, ...rest } = b;
  const golden = await goldenFor(goldenModel ?? b.model, goldenRows);
  if (goldenShift !== undefined) shiftGolden(golden, 'probabilities', goldenShift);
  return signTestBundle(key, { ...rest, golden });
}
