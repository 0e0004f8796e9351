// Digests, keys and the detached bundle signature (docs/model-bundle.md, "Signing"). Ed25519 through
// node:crypto: deterministic signatures (RFC 8032), small keys, no curve or hash parameters to get wrong.
// The signature covers the manifest digest; the manifest covers every file by SHA-256, so one signature
// authenticates the whole bundle.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';
import { EdgeloopError, fail, ok, type Result } from '../errors.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { formatIssues, type Manifest } from './manifest.ts';

export const SIGNATURE_ALG = 'ed25519';

/** manifest.sig, a small JSON document next to manifest.json. */
export const bundleSignatureSchema = z.strictObject({
  alg: z.literal(SIGNATURE_ALG),
  /** First 16 hex digits of SHA-256 over the signer's public key (SPKI DER). */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  /** SHA-256 hex of the canonical manifest JSON: the bytes that were signed are this string's UTF-8. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** Ed25519 signature, base64 (64 bytes decoded). */
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'expected 64 bytes of base64'),
});
export type BundleSignature = z.infer<typeof bundleSignatureSchema>;

export interface SigningKeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  readonly keyId: string;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 hex of the manifest's canonical JSON: the bundle's identity. */
export function manifestDigest(manifest: unknown): string {
  return sha256Hex(canonicalJsonBytes(manifest));
}

function publicKeyObject(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_KEY_INVALID', 'public key is not a readable PEM key', {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new EdgeloopError(
      'EDGELOOP_ERR_KEY_INVALID',
      `public key is ${String(key.asymmetricKeyType)}, not ed25519`,
    );
  }
  return key;
}

function privateKeyObject(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_KEY_INVALID', 'private key is not a readable PEM key', {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new EdgeloopError(
      'EDGELOOP_ERR_KEY_INVALID',
      `private key is ${String(key.asymmetricKeyType)}, not ed25519`,
    );
  }
  return key;
}

function keyIdOf(key: KeyObject): string {
  return sha256Hex(key.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** keyId of a PEM public key (or of a private key's public half). Throws EDGELOOP_ERR_KEY_INVALID. */
export function keyIdFromPem(pem: string): string {
  const key = pem.includes('PRIVATE KEY') ? createPublicKey(privateKeyObject(pem)) : publicKeyObject(pem);
  return keyIdOf(key);
}

/** A fresh Ed25519 key pair in PEM (PKCS#8 private, SPKI public). */
export function generateSigningKeyPair(): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Signs a manifest digest (hex). Throws EDGELOOP_ERR_KEY_INVALID for a bad key (config, not data). */
export function signDigest(digest: string, privateKeyPem: string): BundleSignature {
  if (!/^[0-9a-f]{64}$/.test(digest))
    throw new TypeError('signDigest: digest must be 64 lowercase hex digits');
  const key = privateKeyObject(privateKeyPem);
  const sig = sign(null, Buffer.from(digest, 'utf8'), key);
  return {
    alg: SIGNATURE_ALG,
    keyId: keyIdOf(createPublicKey(key)),
    digest,
    signature: sig.toString('base64'),
  };
}

/** Detached signature over manifestDigest(manifest). */
export function signManifest(manifest: Manifest, privateKeyPem: string): BundleSignature {
  return signDigest(manifestDigest(manifest), privateKeyPem);
}

/** manifest.sig bytes (canonical JSON). */
export function encodeSignature(signature: BundleSignature): Uint8Array {
  return canonicalJsonBytes(signature);
}

/** Parses manifest.sig bytes or an object. A malformed file is EDGELOOP_ERR_BUNDLE_SIGNATURE. */
export function parseSignature(input: unknown): Result<BundleSignature> {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(
        typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input),
      );
    } catch {
      return fail('EDGELOOP_ERR_BUNDLE_SIGNATURE', 'manifest.sig is not JSON');
    }
  }
  const r = bundleSignatureSchema.safeParse(value);
  if (!r.success)
    return fail('EDGELOOP_ERR_BUNDLE_SIGNATURE', `manifest.sig is malformed: ${formatIssues(r.error)}`);
  return ok(r.data);
}

export interface TrustedKey {
  readonly keyId: string;
  readonly key: KeyObject;
}

/** Parses pinned public keys once; throws EDGELOOP_ERR_KEY_INVALID on a bad one (it is config). */
export function trustedKeySet(publicKeysPem: readonly string[]): ReadonlyMap<string, TrustedKey> {
  const out = new Map<string, TrustedKey>();
  for (const pem of publicKeysPem) {
    const key = publicKeyObject(pem);
    const keyId = keyIdOf(key);
    out.set(keyId, { keyId, key });
  }
  return out;
}

/**
 * Checks a signature against the pinned keys and the digest the verifier computed itself.
 * Never trusts `signature.digest` alone: it must equal `digest`.
 */
export function checkSignature(
  signature: BundleSignature,
  digest: string,
  trusted: ReadonlyMap<string, TrustedKey>,
): Result<{ keyId: string }> {
  if (signature.digest !== digest) {
    return fail(
      'EDGELOOP_ERR_BUNDLE_SIGNATURE',
      `manifest.sig was made for manifest ${signature.digest.slice(0, 12)}…, this manifest is ${digest.slice(0, 12)}…`,
    );
  }
  const key = trusted.get(signature.keyId);
  if (key === undefined) {
    return fail(
      'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY',
      `bundle signed by key ${signature.keyId}, which is not among ${trusted.size} trusted key(s)`,
    );
  }
  const good = verify(null, Buffer.from(digest, 'utf8'), key.key, Buffer.from(signature.signature, 'base64'));
  if (!good)
    return fail('EDGELOOP_ERR_BUNDLE_SIGNATURE', `signature by key ${signature.keyId} does not verify`);
  return ok({ keyId: signature.keyId });
}
