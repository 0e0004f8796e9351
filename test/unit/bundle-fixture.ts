// A small but complete bundle for the bundle-*.test.ts files: real reference profile and golden file.

import { createSignedBundle, type ManifestInput, type SignedBundle } from '../../shared/bundle/build.ts';
import { encodeGolden, GOLDEN_FILE } from '../../shared/bundle/golden.ts';
import {
  buildReferenceProfile,
  encodeReferenceProfile,
  REFERENCE_FILE,
  summarizeReference,
} from '../../shared/bundle/reference.ts';

export function fixtureFiles(): { input: ManifestInput; files: Map<string, Uint8Array> } {
  const n = 400;
  let x = 0;
  const rms = Array.from({ length: n }, (_, i) => {
    x = 0.8 * x + Math.sin(i * 12.9898) * 0.5; // deterministic AR(1)-like series
    return 1 + x;
  });
  const kurt = Array.from({ length: n }, (_, i) => 3 + ((i * 7919) % 101) / 100);
  const profile = buildReferenceProfile([
    { name: 'accel.x.rms', values: rms },
    { name: 'accel.x.kurtosis', values: kurt },
  ]);
  if (!profile.ok) throw new Error(profile.message);
  const golden = {
    schemaVersion: 1 as const,
    cases: [
      {
        inputs: { features: { dims: [1, 2], data: [1.1, 3.2] } },
        outputs: { label: { dims: [1], data: [0] }, probabilities: { dims: [1, 2], data: [0.9, 0.1] } },
      },
    ],
  };
  const files = new Map<string, Uint8Array>([
    ['model.onnx', new Uint8Array([8, 7, 18, 4, 1, 2, 3, 4])],
    [REFERENCE_FILE, encodeReferenceProfile(profile.value)],
    [GOLDEN_FILE, encodeGolden(golden)],
    ['reports/report.md', new TextEncoder().encode('# Test report\n')],
  ]);
  const input: ManifestInput = {
    name: 'condition-classifier',
    version: '1.0.0',
    createdAt: '2025-01-02T03:04:05.000Z',
    io: {
      inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', 2] }],
      outputs: [
        { name: 'label', dtype: 'int64', shape: ['batch'] },
        { name: 'probabilities', dtype: 'float32', shape: ['batch', 2] },
      ],
    },
    pipeline: { id: 'edgeloop-features/v1', paramsHash: 'ab12cd34ef56ab12' },
    labels: ['normal', 'imbalance'],
    reference: summarizeReference(profile.value),
    metrics: { accuracy: 0.98, macroF1: 0.97, perClass: { normal: { precision: 1, recall: 0.96 } } },
    golden: { path: GOLDEN_FILE, cases: 1, tolerance: { absolute: 1e-5, relative: 1e-4 } },
    lineage: {
      origin: 'trained',
      datasets: [{ name: 'lab', digest: 'a'.repeat(64), rows: 400, splitSeed: 7, partition: 'train' }],
      code: { commit: '0123456789abcdef0123456789abcdef01234567', dirty: false },
      hyperparameters: { hidden: 16, learningRate: 0.01 },
      trials: [{ index: 0, params: { hidden: 16 }, score: 0.97 }],
      startedAt: '2025-01-02T03:00:00.000Z',
      endedAt: '2025-01-02T03:04:00.000Z',
      libraries: { node: '20.20.0', 'onnx-proto': '8.0.1' },
    },
    onnx: { opset: 17, irVersion: 8, opsetImports: { '': 17 } },
    roles: { 'reports/report.md': 'report' },
  };
  return { input, files };
}

export function fixtureBundle(privateKeyPem: string): SignedBundle {
  const { input, files } = fixtureFiles();
  const r = createSignedBundle(input, files, privateKeyPem);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}
