// The certification a bundle passes before the registry stores it (issue #3 section 6, "Push"): the
// archive reads, the signature is by a trusted key and every file matches its hash with none extra or
// missing (shared/bundle verifyBundle), the manifest names the URL's model and version, the model loads
// in onnxruntime, its inputs and outputs match the manifest signature, and the golden outputs
// reproduce. Each failure is a value with its own stable code; the first one found is returned.

import { compareTensor, resolveGolden, type GoldenTensor } from '../../shared/bundle/golden.ts';
import { goldenTypedArray, ioProblems } from '../../shared/bundle/io-check.ts';
import { modelFile, type Manifest } from '../../shared/bundle/manifest.ts';
import type { TrustedKey } from '../../shared/bundle/signing.ts';
import { decodeBundleArchive } from '../../shared/bundle/tar.ts';
import { verifyBundle, type BundleContents, type VerifiedBundle } from '../../shared/bundle/verify.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OnnxFeed, OnnxModel } from '../adapters/onnxruntime.ts';

export type ModelLoader = (bytes: Uint8Array) => Promise<Result<OnnxModel>>;

export interface AuthenticatedBundle {
  readonly contents: BundleContents;
  readonly verified: VerifiedBundle;
}

/** Reads the archive and verifies signature and files; cheap, so it runs before the version lookup. */
export function authenticateBundle(
  body: Uint8Array,
  expected: { readonly model: string; readonly version?: string },
  trustedKeys: ReadonlyMap<string, TrustedKey>,
  maxBytes: number,
): Result<AuthenticatedBundle> {
  const contents = decodeBundleArchive(body, { maxBytes });
  if (!contents.ok) return contents;
  const verified = verifyBundle({ ...contents.value, trustedKeys });
  if (!verified.ok) return verified;
  const m = verified.value.manifest;
  if (m.name !== expected.model || (expected.version !== undefined && m.version !== expected.version)) {
    return fail(
      'EDGELOOP_ERR_REGISTRY_NAME_MISMATCH',
      `bundle is ${m.name}@${m.version}, pushed to ${expected.model}@${expected.version ?? '*'}`,
    );
  }
  return ok({ contents: contents.value, verified: verified.value });
}

function toFeed(name: string, t: GoldenTensor, dtype: string): Result<OnnxFeed> {
  const r = goldenTypedArray(t, dtype);
  if (r.ok) return ok({ dtype: r.dtype, data: r.data, dims: r.dims });
  return fail(
    'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH',
    r.problem === 'dtype'
      ? `golden input "${name}" has dtype ${dtype}, which the registry cannot feed`
      : `golden input "${name}" holds values that are not ${dtype}`,
  );
}

export interface ModelCheckSummary {
  readonly goldenCases: number;
  /** Largest absolute error seen over every numeric golden output. */
  readonly maxAbsError: number;
}

/** Loads the model, compares its I/O with the manifest, and replays every golden case. */
export async function certifyModel(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  loadModel: ModelLoader,
): Promise<Result<ModelCheckSummary>> {
  const golden = resolveGolden(manifest, files);
  if (!golden.ok) return golden;
  const bytes = files.get(modelFile(manifest).path);
  if (bytes === undefined) return fail('EDGELOOP_ERR_BUNDLE_MISSING_FILE', 'model file is missing');
  const loaded = await loadModel(bytes);
  if (!loaded.ok) return fail('EDGELOOP_ERR_REGISTRY_ONNX_LOAD', loaded.message);
  const model = loaded.value;
  try {
    const problems = [
      ...ioProblems('input', manifest.io.inputs, model.inputs, { listModelNames: true }),
      ...ioProblems('output', manifest.io.outputs, model.outputs, { listModelNames: true }),
    ];
    if (problems.length > 0) return fail('EDGELOOP_ERR_REGISTRY_IO_MISMATCH', problems.join('; '));
    const dtypes = new Map(manifest.io.inputs.map((i) => [i.name, i.dtype]));
    let maxAbsError = 0;
    for (const [index, c] of golden.value.cases.entries()) {
      const feeds: Record<string, OnnxFeed> = {};
      for (const [name, tensor] of Object.entries(c.inputs)) {
        const dtype = dtypes.get(name);
        if (dtype === undefined)
          return fail(
            'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH',
            `golden case ${index} feeds "${name}", which is not a model input`,
          );
        const feed = toFeed(name, tensor, dtype);
        if (!feed.ok) return feed;
        feeds[name] = feed.value;
      }
      const out = await model.run(feeds);
      if (!out.ok)
        return fail(
          'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH',
          `golden case ${index} did not run: ${out.message}`,
        );
      for (const [name, expected] of Object.entries(c.outputs)) {
        const actual = out.value[name];
        if (actual === undefined)
          return fail(
            'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH',
            `golden case ${index}: model produced no output "${name}"`,
          );
        // onnxruntime hands bool tensors back as bytes; golden files hold JSON booleans.
        const data = expected.data.some((v) => typeof v === 'boolean')
          ? Array.from(actual.data as ArrayLike<number>, (v) => v !== 0)
          : actual.data;
        const cmp = compareTensor(expected, { dims: actual.dims, data }, manifest.golden.tolerance);
        if (!cmp.ok)
          return fail(
            'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH',
            `golden case ${index}, output "${name}": ${cmp.reason ?? 'differs'}`,
          );
        if (Number.isFinite(cmp.maxAbsError)) maxAbsError = Math.max(maxAbsError, cmp.maxAbsError);
      }
    }
    return ok({ goldenCases: golden.value.cases.length, maxAbsError });
  } finally {
    await model.close();
  }
}
