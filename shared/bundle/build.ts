// Building and signing a bundle (docs/model-bundle.md, "Building"). Pure: the caller supplies the file
// bytes and the clock's reading (createdAt), so the same inputs give the same manifest, digest and,
// Ed25519 being deterministic, the same signature bytes.

import { fail, ok, type Result } from '../errors.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import {
  BUNDLE_SCHEMA_VERSION,
  bundlePathProblem,
  parseManifest,
  type FileRole,
  type Manifest,
} from './manifest.ts';
import { encodeSignature, sha256Hex, signManifest, type BundleSignature } from './signing.ts';
import type { BundleContents } from './verify.ts';

/** Everything in a manifest except what buildManifest computes (schemaVersion and files). */
export type ManifestInput = Omit<Manifest, 'schemaVersion' | 'files'> & {
  /** Role per path; paths not named here get a role from their name (see inferRole). */
  readonly roles?: Readonly<Record<string, FileRole>>;
};

/** Conventional names: *.onnx -> model, reference.json -> reference, golden.json -> golden, report.* -> report, scaler.* -> scaler. */
export function inferRole(path: string): FileRole {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (base.endsWith('.onnx')) return 'model';
  if (base.startsWith('reference.')) return 'reference';
  if (base.startsWith('golden.')) return 'golden';
  if (base.startsWith('report.') || base.startsWith('report-')) return 'report';
  if (base.startsWith('scaler.')) return 'scaler';
  return 'other';
}

/** Computes files[] (sorted by path, with SHA-256 and size) and validates the whole manifest. */
export function buildManifest(
  input: ManifestInput,
  files: ReadonlyMap<string, Uint8Array>,
): Result<Manifest> {
  for (const path of files.keys()) {
    const why = bundlePathProblem(path);
    if (why !== undefined)
      return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `unsafe bundle path "${path}": ${why}`);
  }
  const { roles, ...rest } = input;
  const list = [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, bytes]) => ({
      path,
      role: roles?.[path] ?? inferRole(path),
      sha256: sha256Hex(bytes),
      size: bytes.byteLength,
    }));
  return parseManifest({ ...rest, schemaVersion: BUNDLE_SCHEMA_VERSION, files: list });
}

/** manifest.json bytes: the manifest's canonical JSON, the exact bytes the digest covers. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return canonicalJsonBytes(manifest);
}

export interface SignedBundle {
  readonly manifest: Manifest;
  readonly signature: BundleSignature;
  /** Ready for writeBundleDir / encodeBundleArchive / an HTTP upload. */
  readonly contents: BundleContents;
}

/** buildManifest + signManifest + encoding in one call: what `edgeloop train` and `registry push` use. */
export function createSignedBundle(
  input: ManifestInput,
  files: ReadonlyMap<string, Uint8Array>,
  privateKeyPem: string,
): Result<SignedBundle> {
  const manifest = buildManifest(input, files);
  if (!manifest.ok) return manifest;
  const signature = signManifest(manifest.value, privateKeyPem);
  return ok({
    manifest: manifest.value,
    signature,
    contents: {
      manifest: encodeManifest(manifest.value),
      signature: encodeSignature(signature),
      files: new Map(files),
    },
  });
}
