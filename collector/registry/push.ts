// Pushing a bundle: authenticate (archive, signature, hashes), refuse a different manifest under an
// existing version (immutability), certify the model (onnxruntime load, I/O, golden outputs), then store
// blobs before metadata, so a crash in between leaves unreferenced blobs and never a version without bytes.

import type { Manifest } from '../../shared/bundle/manifest.ts';
import type { TrustedKey } from '../../shared/bundle/signing.ts';
import { fail, ok, type Failure } from '../../shared/errors.ts';
import type { BlobStore } from './blob-store.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import { authenticateBundle, certifyModel } from './push-check.ts';
import type { AliasName, RegistryStore, VersionRecord } from './store.ts';

/** A failure that may carry a list of reasons (the promotion gate's). */
export type RegistryFailure = Failure & { readonly reasons?: readonly string[] };
export type RegistryResult<T> = { readonly ok: true; readonly value: T } | RegistryFailure;

export interface VersionView {
  readonly model: string;
  readonly version: string;
  readonly manifestDigest: string;
  readonly createdAt: string;
  readonly pushedBy: string;
  readonly aliases: readonly AliasName[];
  readonly files: VersionRecord['files'];
  readonly manifest: Manifest;
}

export interface PushOutcome {
  /** false when the same manifest was already stored under this version (an idempotent re-push). */
  readonly created: boolean;
  readonly version: VersionView;
  readonly certification?: { readonly goldenCases: number; readonly maxAbsError: number };
}

export interface PushDeps {
  readonly store: RegistryStore;
  readonly blobs: BlobStore;
  readonly trusted: ReadonlyMap<string, TrustedKey>;
  readonly maxBundleBytes: number;
  readonly loadModel: OnnxSessionLoader;
  /** ISO-8601 time now. */
  readonly now: () => string;
  readonly view: (rec: VersionRecord) => VersionView;
  readonly isClosed: () => boolean;
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.+-]{1,64})?$/;

/** undefined when the model name (and version, if given) are acceptable; the failure otherwise. */
export function checkNames(model: string, version?: string): Failure | undefined {
  if (!MODEL_NAME.test(model)) return fail('EDGELOOP_ERR_REGISTRY_BAD_NAME', `model name "${model}"`);
  if (version !== undefined && !VERSION.test(version))
    return fail('EDGELOOP_ERR_REGISTRY_BAD_NAME', `version "${version}"`);
  return undefined;
}

export async function pushBundle(
  deps: PushDeps,
  model: string,
  body: Uint8Array,
  actor: string,
  wanted: string | undefined,
): Promise<RegistryResult<PushOutcome>> {
  const bad = checkNames(model, wanted);
  if (bad) return bad;
  const auth = await authenticateBundle(
    body,
    { model, ...(wanted === undefined ? {} : { version: wanted }) },
    deps.trusted,
    deps.maxBundleBytes,
  );
  if (!auth.ok) return auth;
  const { contents, verified } = auth.value;
  const version = verified.manifest.version;
  const existing = deps.store.getVersion(model, version);
  if (existing !== undefined) {
    if (existing.manifestSha256 === verified.digest)
      return ok({ created: false, version: deps.view(existing) });
    return fail(
      'EDGELOOP_ERR_REGISTRY_VERSION_EXISTS',
      `${model}@${version} is stored with manifest ${existing.manifestSha256.slice(0, 12)}…, this one is ${verified.digest.slice(0, 12)}…`,
    );
  }
  const cert = await certifyModel(verified.manifest, contents.files, deps.loadModel);
  if (!cert.ok) return cert;
  if (deps.isClosed()) return fail('EDGELOOP_ERR_REGISTRY_STORAGE', 'the registry closed during the push');
  let signatureSha: string;
  try {
    // Blobs first, metadata second: a crash in between leaves unreferenced blobs, never a version
    // whose bytes are missing.
    for (const bytes of contents.files.values()) await deps.blobs.put(bytes);
    await deps.blobs.put(contents.manifest);
    signatureSha = (await deps.blobs.put(contents.signature as Uint8Array)).sha256;
  } catch (err) {
    return fail('EDGELOOP_ERR_REGISTRY_STORAGE', err instanceof Error ? err.message : String(err));
  }
  const row = {
    model,
    version,
    manifestJson: new TextDecoder().decode(contents.manifest),
    manifestSha256: verified.digest,
    signatureSha256: signatureSha,
    createdAt: deps.now(),
    pushedBy: actor,
  };
  const outcome = deps.store.insertVersion(
    row,
    verified.manifest.files.map((f) => ({ path: f.path, role: f.role, sha256: f.sha256, size: f.size })),
  );
  // A concurrent push of the same version may have won the race while this one was certifying.
  if (outcome === 'conflict')
    return fail(
      'EDGELOOP_ERR_REGISTRY_VERSION_EXISTS',
      `${model}@${version} was pushed concurrently with other bytes`,
    );
  const rec = deps.store.getVersion(model, version) as VersionRecord;
  return ok({ created: outcome === 'created', version: deps.view(rec), certification: cert.value });
}
