// The certification a bundle passes before the registry stores it (issue #3 section 6, "Push"): the
// archive reads, the signature is by a trusted key and every file matches its hash with none extra or
// missing (shared/bundle verifyBundle), the manifest names the URL's model and version, the model loads
// in onnxruntime, its inputs and outputs match the manifest signature, and the golden outputs reproduce
// (the same replay the agent runs, shared/platform/golden.ts). Each failure is a value with its own
// stable code; the first one found is returned.

import { resolveGolden } from '../../shared/bundle/golden.ts';
import { replayGolden } from '../../shared/platform/golden.ts';
import { ioProblems, labelCountProblem } from '../../shared/bundle/io-check.ts';
import { modelFile, type Manifest } from '../../shared/bundle/manifest.ts';
import type { TrustedKey } from '../../shared/bundle/signing.ts';
import { readBundleArchiveBytes } from '../../shared/platform/tar.ts';
import { verifyBundle, type BundleContents, type VerifiedBundle } from '../../shared/bundle/verify.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';

export interface AuthenticatedBundle {
  readonly contents: BundleContents;
  readonly verified: VerifiedBundle;
}

/**
 * Reads the archive and verifies signature and files; cheap, so it runs before the version lookup. The
 * archive is read with yields to the event loop, so a large or hostile body never holds up other requests.
 */
export async function authenticateBundle(
  body: Uint8Array,
  expected: { readonly model: string; readonly version?: string },
  trustedKeys: ReadonlyMap<string, TrustedKey>,
  maxBytes: number,
): Promise<Result<AuthenticatedBundle>> {
  const contents = await readBundleArchiveBytes(body, { maxBytes });
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

export interface ModelCheckSummary {
  readonly goldenCases: number;
  /** Largest absolute error seen over every numeric golden output. */
  readonly maxAbsError: number;
}

/** Loads the model, compares its I/O with the manifest, and replays every golden case. */
export async function certifyModel(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  loadModel: OnnxSessionLoader,
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
    // One label per probability column (issue #8 §5); a dynamic class dimension is read from the golden
    // outputs, which the replay below proves are the model's own.
    const labels = labelCountProblem(manifest.io.outputs, manifest.labels, golden.value.cases[0]?.outputs);
    if (labels !== undefined) return fail('EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH', labels);
    const replay = await replayGolden(manifest, golden.value, model, 'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH');
    if (!replay.ok) return replay;
    return ok({ goldenCases: replay.value.cases, maxAbsError: replay.value.maxAbsError });
  } finally {
    await model.close();
  }
}
