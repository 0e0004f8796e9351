// Bundle verification (docs/model-bundle.md, "Verification"). Pure: the caller reads the bytes (from a
// directory, a tarball, an HTTP body) and pins the trusted keys. Order: authenticate first, then
// interpret. The manifest bytes must be their own canonical JSON, so the digest is simply their SHA-256
// and there is no second reading of the same bytes (duplicate keys, 1.0 vs 1) for an attacker to exploit.

import { fail, ok, type Result } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';
import { MANIFEST_FILE, parseManifest, SIGNATURE_FILE, type Manifest } from './manifest.ts';
import {
  checkSignature,
  parseSignature,
  sha256Hex,
  trustedKeySet,
  type BundleSignature,
  type TrustedKey,
} from './signing.ts';

/** A bundle as bytes: the two root files and every other file by bundle-relative path. */
export interface BundleContents {
  /** manifest.json bytes. */
  readonly manifest: Uint8Array;
  /** manifest.sig bytes, or null when the bundle has none (verification then fails). */
  readonly signature: Uint8Array | null;
  /** Every file except manifest.json and manifest.sig. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface VerifyBundleInput {
  /** manifest.json bytes or text (must be canonical), or a manifest object (canonicalized here). */
  readonly manifest: Uint8Array | string | Manifest;
  readonly signature: Uint8Array | string | BundleSignature | null;
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Pinned Ed25519 public keys, PEM, or a set made once with trustedKeySet(). */
  readonly trustedKeys: readonly string[] | ReadonlyMap<string, TrustedKey>;
}

export interface VerifiedBundle {
  readonly manifest: Manifest;
  /** manifestDigest: SHA-256 hex of the canonical manifest. */
  readonly digest: string;
  readonly keyId: string;
}

/** Parses manifest bytes that must be canonical JSON; returns the raw value and its digest. */
export function decodeManifestBytes(bytes: Uint8Array | string): Result<{ value: unknown; digest: string }> {
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `${MANIFEST_FILE} is not UTF-8`);
  }
  let value: unknown;
  let canonical: string;
  try {
    value = JSON.parse(text);
    canonical = canonicalJson(value);
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
      `${MANIFEST_FILE} is not JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (canonical !== text) {
    return fail(
      'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
      `${MANIFEST_FILE} is not in canonical JSON form (sorted keys, no whitespace)`,
    );
  }
  return ok({ value, digest: sha256Hex(text) });
}

/**
 * Checks the files against the manifest: none missing, none extra, sizes then SHA-256 equal.
 * `files` must not contain manifest.json or manifest.sig.
 */
export function checkFiles(manifest: Manifest, files: ReadonlyMap<string, Uint8Array>): Result<void> {
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const path of [...files.keys()].sort()) {
    if (!listed.has(path) && path !== MANIFEST_FILE && path !== SIGNATURE_FILE) {
      return fail('EDGELOOP_ERR_BUNDLE_EXTRA_FILE', `file ${path} is not listed in the manifest`);
    }
  }
  for (const f of manifest.files) {
    const bytes = files.get(f.path);
    if (bytes === undefined)
      return fail('EDGELOOP_ERR_BUNDLE_MISSING_FILE', `file ${f.path} (${f.role}) is missing`);
    if (bytes.byteLength !== f.size) {
      return fail(
        'EDGELOOP_ERR_BUNDLE_SIZE_MISMATCH',
        `file ${f.path} is ${bytes.byteLength} bytes, manifest says ${f.size}`,
      );
    }
  }
  // Hashing last: size checks are free and name most corruption (truncated downloads) first.
  for (const f of manifest.files) {
    const got = sha256Hex(files.get(f.path) as Uint8Array);
    if (got !== f.sha256) {
      return fail(
        'EDGELOOP_ERR_BUNDLE_HASH_MISMATCH',
        `file ${f.path} has SHA-256 ${got.slice(0, 12)}…, manifest says ${f.sha256.slice(0, 12)}…`,
      );
    }
  }
  return ok(undefined);
}

/**
 * Verifies a bundle: manifest canonical JSON, signature present and well-formed, made for this manifest
 * by a pinned key, manifest valid against the schema, then every file present with the right size and
 * hash and no extra file. The first failure is returned with its own stable code.
 */
export function verifyBundle(input: VerifyBundleInput): Result<VerifiedBundle> {
  let value: unknown;
  let digest: string;
  if (typeof input.manifest === 'string' || input.manifest instanceof Uint8Array) {
    const d = decodeManifestBytes(input.manifest);
    if (!d.ok) return d;
    ({ value, digest } = d.value);
  } else {
    value = input.manifest;
    try {
      digest = sha256Hex(canonicalJson(value));
    } catch (err) {
      return fail(
        'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
        `manifest has no JSON form (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }
  if (input.signature === null) return fail('EDGELOOP_ERR_BUNDLE_SIGNATURE', `${SIGNATURE_FILE} is missing`);
  const sig = parseSignature(input.signature);
  if (!sig.ok) return sig;
  const trusted =
    input.trustedKeys instanceof Map
      ? input.trustedKeys
      : trustedKeySet(input.trustedKeys as readonly string[]);
  const checked = checkSignature(sig.value, digest, trusted);
  if (!checked.ok) return checked;
  const manifest = parseManifest(value);
  if (!manifest.ok) return manifest;
  const files = checkFiles(manifest.value, input.files);
  if (!files.ok) return files;
  return ok({ manifest: manifest.value, digest, keyId: checked.value.keyId });
}
