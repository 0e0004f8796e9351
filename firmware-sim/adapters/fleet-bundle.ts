// Loads the bundle of `edgeloop sim --fleet --model` as the agent stages one (agent/models/stage.ts):
// verify (every file hash, signature by a pinned key), load one onnxruntime session, check its I/O against
// the manifest and replay the golden cases, so the sim never publishes predictions of a model an agent
// would refuse. Reads a bundle directory (the files the manifest lists) or a .tar/.tar.gz.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveGolden } from '../../shared/bundle/golden.ts';
import { ioProblems } from '../../shared/bundle/io-check.ts';
import { MANIFEST_FILE, modelFile, parseManifest, SIGNATURE_FILE } from '../../shared/bundle/manifest.ts';
import { trustedKeySet, type TrustedKey } from '../../shared/bundle/signing.ts';
import { decodeManifestBytes, verifyBundle, type BundleContents } from '../../shared/bundle/verify.ts';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import { replayGolden } from '../../shared/platform/golden.ts';
import { loadOnnxSession, type OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import { readBundleArchiveFile } from '../../shared/platform/tar.ts';
import { createFleetModel, type FleetModel } from '../fleet-model.ts';

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function readBundleDirectory(dir: string): Promise<Result<BundleContents>> {
  try {
    const manifest = new Uint8Array(await readFile(join(dir, MANIFEST_FILE)));
    const signature = await readFile(join(dir, SIGNATURE_FILE)).then(
      (b) => new Uint8Array(b),
      () => null, // no signature: verification says so
    );
    const decoded = decodeManifestBytes(manifest);
    if (!decoded.ok) return decoded;
    const m = parseManifest(decoded.value.value);
    if (!m.ok) return m;
    const files = new Map<string, Uint8Array>();
    // Only the listed files: verifyBundle checks each one's SHA-256, and the paths were checked by the
    // manifest schema (relative, no "..").
    for (const f of m.value.files) files.set(f.path, new Uint8Array(await readFile(join(dir, f.path))));
    return ok({ manifest, signature, files });
  } catch (err) {
    return fail('EDGELOOP_ERR_INPUT_READ', `cannot read bundle ${dir}: ${errText(err)}`);
  }
}

export interface LoadFleetModelOptions {
  /** Bundle directory, .tar or .tar.gz. */
  readonly path: string;
  /** Pinned Ed25519 public keys (PEM text); the bundle must be signed by one of them. */
  readonly trustedKeys: readonly string[];
  readonly loadSession?: OnnxSessionLoader;
}

/** Verified, checked and loaded; the one session every device of the process shares. */
export async function loadFleetModel(o: LoadFleetModelOptions): Promise<Result<FleetModel>> {
  let keys;
  try {
    keys = trustedKeySet(o.trustedKeys);
  } catch (err) {
    if (err instanceof EdgeloopError) return fail(err.code, err.message);
    throw err;
  }
  const contents = /\.(tar|tar\.gz|tgz)$/i.test(o.path)
    ? await readBundleArchiveFile(o.path)
    : await readBundleDirectory(o.path);
  if (!contents.ok) return contents;
  return stageFleetBundle(contents.value, keys, o.loadSession);
}

/**
 * From bundle contents to a model that may serve, as the agent stages one: signature by a pinned key and
 * every file hash, one session, its I/O against the manifest, the golden cases replayed. Also used for
 * the bundles fleet devices install by command (fleet-updates.ts, through fleet-models.ts).
 */
export async function stageFleetBundle(
  contents: BundleContents,
  keys: ReadonlyMap<string, TrustedKey>,
  loadSession?: OnnxSessionLoader,
): Promise<Result<FleetModel>> {
  const verified = verifyBundle({ ...contents, trustedKeys: keys });
  if (!verified.ok) return verified;
  const manifest = verified.value.manifest;
  const bytes = contents.files.get(modelFile(manifest).path);
  if (bytes === undefined) return fail('EDGELOOP_ERR_BUNDLE_MISSING_FILE', 'model file is missing');
  const loaded = await (loadSession ?? ((b) => loadOnnxSession(b)))(bytes);
  if (!loaded.ok) return loaded;
  const session = loaded.value;
  const refuse = async (f: { code: Parameters<typeof fail>[0]; message: string }) => {
    await session.close();
    return fail(f.code, f.message);
  };
  const problems = [
    ...ioProblems('input', manifest.io.inputs, session.inputs),
    ...ioProblems('output', manifest.io.outputs, session.outputs),
  ];
  if (problems.length > 0)
    return refuse({ code: 'EDGELOOP_ERR_MODEL_IO_MISMATCH', message: problems.join('; ') });
  const golden = resolveGolden(manifest, contents.files);
  if (!golden.ok) return refuse(golden);
  const replay = await replayGolden(manifest, golden.value, session, 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH');
  if (!replay.ok) return refuse(replay);
  const model = createFleetModel(manifest, session, verified.value.digest);
  if (!model.ok) return refuse(model);
  return model;
}
