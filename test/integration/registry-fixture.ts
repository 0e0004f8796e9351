// Builds small, real, signed model bundles for the registry tests: a softmax-regression ONNX graph made
// with onnx-proto (not by our trainer, so it doubles as a bring-your-own model), golden outputs produced
// by running it in onnxruntime-node, a real reference profile, and knobs to break each check on purpose.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { createSignedBundle, type ManifestInput, type SignedBundle } from '../../shared/bundle/build.ts';
import { encodeGolden, GOLDEN_FILE, type GoldenData } from '../../shared/bundle/golden.ts';
import type { IoSignature } from '../../shared/bundle/manifest.ts';
import {
  buildReferenceProfile,
  encodeReferenceProfile,
  REFERENCE_FILE,
  summarizeReference,
} from '../../shared/bundle/reference.ts';
import { generateSigningKeyPair, type SigningKeyPair } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/bundle/tar.ts';
import { loadOnnxModel } from '../../collector/adapters/onnxruntime.ts';
import { createRegistryServer, type RegistryServer } from '../../collector/registry/server.ts';

const { onnx } = onnxProto;

export const FEATURES = 3;
export const CLASSES = ['normal', 'imbalance'] as const;

/** features[N,3] -MatMul(W)-Add(b)-Softmax-> probabilities[N,2]; ArgMax -> label[N] (int64). */
export function tinyOnnx(
  weights: readonly number[] = [0.5, -1, 0.25, 1, 0.75, -0.5],
  bias: readonly number[] = [0.1, -0.1],
): Uint8Array {
  const f32 = (name: string, dims: number[], values: readonly number[]) => {
    const raw = new Uint8Array(values.length * 4);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => {
      view.setFloat32(i * 4, v, true);
    });
    return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
  };
  const vi = (name: string, elemType: number, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const INT = onnx.AttributeProto.AttributeType.INT;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'registry-test',
    graph: {
      name: 'tiny',
      initializer: [f32('w', [FEATURES, 2], weights), f32('b', [2], bias)],
      node: [
        onnx.NodeProto.create({ opType: 'MatMul', input: ['features', 'w'], output: ['mm'] }),
        onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'b'], output: ['logits'] }),
        onnx.NodeProto.create({
          opType: 'Softmax',
          input: ['logits'],
          output: ['probabilities'],
          attribute: [{ name: 'axis', i: -1, type: INT }],
        }),
        onnx.NodeProto.create({
          opType: 'ArgMax',
          input: ['probabilities'],
          output: ['label'],
          attribute: [
            { name: 'axis', i: 1, type: INT },
            { name: 'keepdims', i: 0, type: INT },
          ],
        }),
      ],
      input: [vi('features', onnx.TensorProto.DataType.FLOAT, ['N', FEATURES])],
      output: [
        vi('probabilities', onnx.TensorProto.DataType.FLOAT, ['N', 2]),
        vi('label', onnx.TensorProto.DataType.INT64, ['N']),
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export const tinyIo: IoSignature = {
  inputs: [{ name: 'features', dtype: 'float32', shape: ['N', FEATURES] }],
  outputs: [
    { name: 'probabilities', dtype: 'float32', shape: ['N', 2] },
    { name: 'label', dtype: 'int64', shape: ['N'] },
  ],
};

/** Runs the model on a few inputs and records the outputs as golden cases. */
export async function goldenFor(modelBytes: Uint8Array): Promise<GoldenData> {
  const m = await loadOnnxModel(modelBytes);
  if (!m.ok) throw new Error(m.message);
  const rows = [
    [0.1, 0.2, 0.3],
    [1, -1, 0.5],
    [-2, 0.5, 3],
  ];
  const cases = [];
  for (const row of rows) {
    const out = await m.value.run({
      features: { dtype: 'float32', data: Float32Array.from(row), dims: [1, FEATURES] },
    });
    if (!out.ok) throw new Error(out.message);
    const p = out.value.probabilities!;
    const l = out.value.label!;
    cases.push({
      inputs: { features: { dims: [1, FEATURES], data: row } },
      outputs: {
        probabilities: { dims: [...p.dims], data: Array.from(p.data as Float32Array) },
        label: { dims: [...l.dims], data: Array.from(l.data as BigInt64Array, Number) },
      },
    });
  }
  await m.value.close();
  return { schemaVersion: 1, cases };
}

export interface BundleOptions {
  readonly name?: string;
  readonly version?: string;
  readonly macroF1?: number;
  readonly io?: IoSignature;
  /** Replace the model bytes after golden outputs were computed from the real model. */
  readonly modelBytes?: Uint8Array;
  /** Shift every golden probability by this much (breaks reproduction). */
  readonly goldenShift?: number;
  readonly description?: string;
}

const ref = (() => {
  const cols = Array.from({ length: FEATURES }, (_, j) => ({
    name: `f${j}`,
    values: Array.from({ length: 200 }, (_, i) => Math.sin(i * 0.37 + j)),
  }));
  const r = buildReferenceProfile(cols, { sampleSize: 50 });
  if (!r.ok) throw new Error(r.message);
  return r.value;
})();

export async function makeBundle(key: SigningKeyPair, options: BundleOptions = {}): Promise<SignedBundle> {
  const real = tinyOnnx();
  const golden = await goldenFor(real);
  if (options.goldenShift !== undefined) {
    for (const c of golden.cases) {
      const p = c.outputs.probabilities!;
      p.data = (p.data as number[]).map((v) => v + options.goldenShift!);
    }
  }
  const files = new Map<string, Uint8Array>([
    ['model.onnx', options.modelBytes ?? real],
    [REFERENCE_FILE, encodeReferenceProfile(ref)],
    [GOLDEN_FILE, encodeGolden(golden)],
    ['report.md', new TextEncoder().encode('# Test report\n\nmacro-F1 as in the manifest.\n')],
  ]);
  const input: ManifestInput = {
    name: options.name ?? 'pump-condition',
    version: options.version ?? '1.0.0',
    createdAt: '2026-01-02T03:04:05.000Z',
    ...(options.description === undefined ? {} : { description: options.description }),
    io: options.io ?? tinyIo,
    pipeline: { id: 'edgeloop.features.v1', paramsHash: 'ab12cd34ef56ab12' },
    labels: [...CLASSES],
    reference: summarizeReference(ref),
    metrics: { accuracy: 0.95, macroF1: options.macroF1 ?? 0.93 },
    golden: { path: GOLDEN_FILE, cases: golden.cases.length, tolerance: { absolute: 1e-5, relative: 1e-4 } },
    lineage: {
      origin: 'imported',
      datasets: [{ name: 'lab', digest: 'b'.repeat(64), rows: 200, splitSeed: 7, partition: 'test' }],
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

export function archiveOf(b: SignedBundle, gzip = false): Uint8Array {
  return encodeBundleArchive(b.contents, { gzip });
}

export const WRITE_TOKEN = 'write-token-0123456789abcdef';
export const READ_TOKEN = 'read-token-0123456789abcdef';

export interface Harness {
  readonly server: RegistryServer;
  readonly key: SigningKeyPair;
  readonly dir: string;
  /** Handler exceptions (500s); a test asserts it stays empty. */
  readonly internalErrors: unknown[];
  /** fetch against the server with the write token unless headers say otherwise. */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

export async function startHarness(
  t: { after(fn: () => unknown): void },
  options: { readAuth?: 'open' | 'token'; maxBundleBytes?: number } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-registry-'));
  const key = generateSigningKeyPair();
  const internalErrors: unknown[] = [];
  const server = await createRegistryServer({
    dataDir: dir,
    tokens: [
      { token: WRITE_TOKEN, actor: 'ci-bot' },
      { token: READ_TOKEN, actor: 'dashboard', write: false },
    ],
    readAuth: options.readAuth ?? 'open',
    trustedKeys: [key.publicKeyPem],
    ...(options.maxBundleBytes === undefined ? {} : { maxBundleBytes: options.maxBundleBytes }),
    onError: (err) => {
      internalErrors.push(err);
    },
  });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    server,
    key,
    dir,
    internalErrors,
    call(path, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      const tok = token === undefined ? WRITE_TOKEN : token;
      if (tok !== null) headers.set('authorization', `Bearer ${tok}`);
      return fetch(`${server.url}${path}`, { ...rest, headers });
    },
  };
}

export async function push(
  h: Harness,
  bytes: Uint8Array,
  model = 'pump-condition',
  token?: string | null,
): Promise<Response> {
  return h.call(`/api/v1/models/${model}/versions`, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'application/x-tar' },
    ...(token === undefined ? {} : { token }),
  });
}

export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? `(no error code, status ${res.status})`;
}
