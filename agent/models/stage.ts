// From bundle bytes to an engine that may serve: verify (digest, every hash, signature by a pinned key),
// load the session beside the serving one, check its I/O against the manifest, replay the golden cases,
// and check the device's feature vector fits. Used for new installs and again at start for the stored
// active model, so nothing is served that was not verified in this process.

import { sha256Hex, type TrustedKey } from '../../shared/bundle/signing.ts';
import { decodeBundleArchive } from '../../shared/platform/tar.ts';
import { decodeManifestBytes, verifyBundle, type BundleContents } from '../../shared/bundle/verify.ts';
import { modelFile, type Manifest } from '../../shared/bundle/manifest.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { FeatureParams } from '../../shared/features/params.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { bindModel, checkFeatures, createOnnxEngine } from '../inference/onnx-engine.ts';
import type { GoldenReplaySummary } from '../../shared/platform/golden.ts';
import { checkIo, runGolden } from './checks.ts';
import type { ModelStore, StoredModel } from './store.ts';

export interface StageOptions {
  readonly trustedKeys: ReadonlyMap<string, TrustedKey>;
  readonly loadSession: OnnxSessionLoader;
  readonly featureParams?: Partial<FeatureParams>;
  /** The device's sensors, when a HELLO has described them. */
  readonly sensors?: readonly SensorDescriptor[] | undefined;
  /** The model the command named; a bundle of another name or version is refused before loading. */
  readonly expect?: ModelRef;
}

export interface StagedModel {
  readonly engine: InferenceEngine;
  readonly manifest: Manifest;
  readonly manifestDigest: string;
  readonly keyId: string;
  readonly golden: GoldenReplaySummary;
}

/**
 * Reads a downloaded archive and checks the command's digest ("sha256:<hex>"), which may name either the
 * archive bytes or the manifest digest (the registry's identity of a version, the same for .tar and .tgz).
 */
export function decodeArchive(
  bytes: Uint8Array,
  expectedDigest: string,
  maxBytes: number,
): Result<BundleContents> {
  const want = expectedDigest.replace(/^sha256:/, '');
  const archiveDigest = sha256Hex(bytes);
  const contents = decodeBundleArchive(bytes, { maxBytes });
  if (!contents.ok)
    return archiveDigest === want
      ? contents
      : fail(
          'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH',
          `archive SHA-256 ${archiveDigest.slice(0, 12)}…, command says ${want.slice(0, 12)}…`,
        );
  if (archiveDigest === want) return contents;
  const m = decodeManifestBytes(contents.value.manifest);
  if (m.ok && m.value.digest === want) return contents;
  return fail(
    'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH',
    `archive SHA-256 ${archiveDigest.slice(0, 12)}… and manifest digest ${m.ok ? m.value.digest.slice(0, 12) + '…' : '(unreadable)'} both differ from the command's ${want.slice(0, 12)}…`,
  );
}

export async function stageBundle(
  contents: BundleContents,
  options: StageOptions,
): Promise<Result<StagedModel>> {
  const verified = verifyBundle({ ...contents, trustedKeys: options.trustedKeys });
  if (!verified.ok) return verified;
  const manifest = verified.value.manifest;
  const want = options.expect;
  if (want !== undefined && (manifest.name !== want.name || manifest.version !== want.version)) {
    return fail(
      'EDGELOOP_ERR_MODEL_NAME_MISMATCH',
      `bundle is ${manifest.name}@${manifest.version}, the command installs ${want.name}@${want.version}`,
    );
  }
  // Cheap manifest-only checks first, so a bundle that cannot serve never loads a session.
  const binding = bindModel(manifest);
  if (!binding.ok) return binding;
  const bytes = contents.files.get(modelFile(manifest).path);
  if (bytes === undefined) return fail('EDGELOOP_ERR_BUNDLE_MISSING_FILE', 'model file is missing');
  const loaded = await options.loadSession(bytes);
  if (!loaded.ok) return loaded;
  const session = loaded.value;
  const done = async <T>(r: Result<T>): Promise<Result<T>> => {
    if (!r.ok) await session.close();
    return r;
  };
  const io = checkIo(manifest, session);
  if (!io.ok) return done(io);
  const golden = await runGolden(manifest, contents.files, session);
  if (!golden.ok) return done(golden);
  const engine = createOnnxEngine({
    manifest,
    manifestDigest: verified.value.digest,
    session,
    ...(options.featureParams === undefined ? {} : { featureParams: options.featureParams }),
  });
  if (!engine.ok) return done(engine);
  if (options.sensors !== undefined && options.sensors.length > 0) {
    const fits = checkFeatures(manifest, binding.value, engine.value.featureNames(options.sensors));
    if (!fits.ok) return done(fits);
  }
  return ok({
    engine: engine.value,
    manifest,
    manifestDigest: verified.value.digest,
    keyId: verified.value.keyId,
    golden: golden.value,
  });
}

/**
 * Stages a model kept in the store (the active one at start, or the last known good one on rollback) as
 * if it were new, and checks it is still the bundle active.json recorded.
 */
export async function stageStored(
  store: ModelStore,
  m: StoredModel,
  options: StageOptions,
): Promise<Result<StagedModel>> {
  const contents = await store.readBundle(m.name, m.version);
  if (!contents.ok) return contents;
  const staged = await stageBundle(contents.value, options);
  if (!staged.ok) return staged;
  if (staged.value.manifestDigest !== m.manifestDigest) {
    await staged.value.engine.close();
    return fail('EDGELOOP_ERR_MODEL_ACTIVE_INVALID', `stored manifest digest differs from active.json's`);
  }
  return staged;
}
