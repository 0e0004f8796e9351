import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { buildManifest, encodeManifest } from '../../shared/bundle/build.ts';
import { canonicalJson } from '../../shared/bundle/canonical-json.ts';
import { compareTensor, resolveGolden } from '../../shared/bundle/golden.ts';
import { parseManifest, type Manifest } from '../../shared/bundle/manifest.ts';
import {
  encodeSignature,
  generateSigningKeyPair,
  keyIdFromPem,
  manifestDigest,
  signDigest,
  signManifest,
} from '../../shared/bundle/signing.ts';
import { verifyBundle, type VerifyBundleInput } from '../../shared/bundle/verify.ts';
import type { ErrorCode } from '../../shared/errors.ts';
import { fixtureBundle, fixtureFiles } from './bundle-fixture.ts';

const signer = generateSigningKeyPair();
const stranger = generateSigningKeyPair();

function good(): VerifyBundleInput {
  const b = fixtureBundle(signer.privateKeyPem);
  return { ...b.contents, files: new Map(b.contents.files), trustedKeys: [signer.publicKeyPem] };
}

function expectCode(input: VerifyBundleInput, code: ErrorCode, mentions?: string): void {
  const r = verifyBundle(input);
  assert.equal(r.ok, false, `expected ${code}, got ok`);
  assert.equal(r.code, code, r.message);
  if (mentions !== undefined) assert.match(r.message, new RegExp(mentions.replace(/\./g, '\\.')));
}

/** A manifest re-signed by the trusted key after `edit`, so only the edit can fail verification. */
function resigned(edit: (m: Record<string, unknown>) => void): VerifyBundleInput {
  const base = good();
  const m = JSON.parse(new TextDecoder().decode(base.manifest as Uint8Array)) as Record<string, unknown>;
  edit(m);
  const text = canonicalJson(m);
  const sig = signDigest(createHash('sha256').update(text).digest('hex'), signer.privateKeyPem);
  return { ...base, manifest: new TextEncoder().encode(text), signature: encodeSignature(sig) };
}

test('a signed bundle verifies and reports digest and key id', () => {
  const input = good();
  const r = verifyBundle(input);
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.value.keyId, signer.keyId);
  assert.equal(r.value.digest, manifestDigest(r.value.manifest));
  assert.equal(r.value.manifest.files.length, 4);
  assert.deepEqual(
    r.value.manifest.files.map((f) => f.role),
    ['golden', 'model', 'reference', 'report'],
  );
});

test('verification accepts a manifest object and parsed signature too', () => {
  const b = fixtureBundle(signer.privateKeyPem);
  const r = verifyBundle({
    manifest: b.manifest,
    signature: b.signature,
    files: b.contents.files,
    trustedKeys: [signer.publicKeyPem],
  });
  assert.ok(r.ok);
});

test('keyId is the first 16 hex of SHA-256 over the SPKI DER public key', () => {
  const der = createPublicKey(signer.publicKeyPem).export({ type: 'spki', format: 'der' });
  assert.equal(signer.keyId, createHash('sha256').update(der).digest('hex').slice(0, 16));
  assert.equal(keyIdFromPem(signer.publicKeyPem), signer.keyId);
  assert.equal(keyIdFromPem(signer.privateKeyPem), signer.keyId);
});

test('the same inputs give the same manifest bytes and signature (Ed25519 is deterministic)', () => {
  const a = fixtureBundle(signer.privateKeyPem);
  const b = fixtureBundle(signer.privateKeyPem);
  assert.deepEqual(a.contents.manifest, b.contents.manifest);
  assert.equal(a.signature.signature, b.signature.signature);
});

test('a tampered file is EDGELOOP_ERR_BUNDLE_HASH_MISMATCH naming the file', () => {
  const input = good();
  const files = new Map(input.files);
  const model = Uint8Array.from(files.get('model.onnx')!);
  model[0] = (model[0]! + 1) & 0xff; // same size, different bytes
  files.set('model.onnx', model);
  expectCode({ ...input, files }, 'EDGELOOP_ERR_BUNDLE_HASH_MISMATCH', 'model.onnx');
});

test('a file of the wrong size is EDGELOOP_ERR_BUNDLE_SIZE_MISMATCH', () => {
  const input = good();
  const files = new Map(input.files);
  files.set('reports/report.md', new TextEncoder().encode('# Test report\nextra\n'));
  expectCode({ ...input, files }, 'EDGELOOP_ERR_BUNDLE_SIZE_MISMATCH', 'reports/report.md');
});

test('a missing file is EDGELOOP_ERR_BUNDLE_MISSING_FILE', () => {
  const input = good();
  const files = new Map(input.files);
  files.delete('golden.json');
  expectCode({ ...input, files }, 'EDGELOOP_ERR_BUNDLE_MISSING_FILE', 'golden.json');
});

test('an extra file is EDGELOOP_ERR_BUNDLE_EXTRA_FILE', () => {
  const input = good();
  const files = new Map(input.files);
  files.set('notes.txt', new Uint8Array([1]));
  expectCode({ ...input, files }, 'EDGELOOP_ERR_BUNDLE_EXTRA_FILE', 'notes.txt');
});

test('a signature by an unpinned key is EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY', () => {
  const b = fixtureBundle(stranger.privateKeyPem);
  expectCode(
    { ...b.contents, trustedKeys: [signer.publicKeyPem] },
    'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY',
    stranger.keyId,
  );
  expectCode({ ...b.contents, trustedKeys: [] }, 'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY');
});

test('a wrong signature is EDGELOOP_ERR_BUNDLE_SIGNATURE', () => {
  const input = good();
  const sig = JSON.parse(new TextDecoder().decode(input.signature as Uint8Array)) as { signature: string };
  const raw = Buffer.from(sig.signature, 'base64');
  raw[10] = raw[10]! ^ 0x01;
  expectCode(
    { ...input, signature: JSON.stringify({ ...sig, signature: raw.toString('base64') }) },
    'EDGELOOP_ERR_BUNDLE_SIGNATURE',
    'does not verify',
  );
});

test("a stranger's signature relabelled with the trusted keyId is EDGELOOP_ERR_BUNDLE_SIGNATURE", () => {
  const input = good();
  const b = fixtureBundle(signer.privateKeyPem);
  const forged = { ...signManifest(b.manifest, stranger.privateKeyPem), keyId: signer.keyId };
  expectCode({ ...input, signature: encodeSignature(forged) }, 'EDGELOOP_ERR_BUNDLE_SIGNATURE');
});

test('an edited manifest is EDGELOOP_ERR_BUNDLE_SIGNATURE (signature made for another digest)', () => {
  const input = good();
  const m = JSON.parse(new TextDecoder().decode(input.manifest as Uint8Array)) as Manifest;
  const edited = { ...m, metrics: { ...m.metrics, macroF1: 0.999 } };
  expectCode(
    { ...input, manifest: canonicalJson(edited) },
    'EDGELOOP_ERR_BUNDLE_SIGNATURE',
    'made for manifest',
  );
});

test('a missing or malformed manifest.sig is EDGELOOP_ERR_BUNDLE_SIGNATURE', () => {
  expectCode({ ...good(), signature: null }, 'EDGELOOP_ERR_BUNDLE_SIGNATURE', 'missing');
  expectCode({ ...good(), signature: 'not json' }, 'EDGELOOP_ERR_BUNDLE_SIGNATURE');
  expectCode({ ...good(), signature: '{"alg":"rsa"}' }, 'EDGELOOP_ERR_BUNDLE_SIGNATURE', 'malformed');
});

test('a manifest that is not canonical JSON is EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', () => {
  const input = good();
  const pretty = JSON.stringify(JSON.parse(new TextDecoder().decode(input.manifest as Uint8Array)), null, 2);
  expectCode({ ...input, manifest: pretty }, 'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', 'canonical');
  expectCode({ ...input, manifest: '{"a":' }, 'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', 'not JSON');
  expectCode(
    { ...input, manifest: new Uint8Array([0xff, 0xfe]) },
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
    'UTF-8',
  );
});

test('a validly signed manifest that breaks the schema is EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', () => {
  expectCode(
    resigned((m) => {
      m.schemaVersion = 2;
    }),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
    'schemaVersion',
  );
  expectCode(
    resigned((m) => {
      m.unknownField = 1;
    }),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  expectCode(
    resigned((m) => {
      m.labels = ['a', 'a'];
    }),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
    'duplicate label',
  );
});

test('path traversal in a file path is EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID, even when signed', () => {
  for (const bad of ['../evil.onnx', '/etc/passwd', 'a/../../b', 'a\\b', 'a//b', './x']) {
    const input = resigned((m) => {
      const files = m.files as { path: string }[];
      files[3]!.path = bad; // reports/report.md
    });
    expectCode(input, 'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', 'unsafe bundle path');
  }
  const { input, files } = fixtureFiles();
  files.set('../x', new Uint8Array(1));
  const r = buildManifest(input, files);
  assert.equal(r.ok ? 'ok' : r.code, 'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID');
});

test('buildManifest demands exactly one model and the reference/golden files with their roles', () => {
  const { input, files } = fixtureFiles();
  files.set('second.onnx', new Uint8Array(2));
  const two = buildManifest(input, files);
  assert.ok(!two.ok && /exactly one file must have role model/.test(two.message));
  const { input: i2, files: f2 } = fixtureFiles();
  f2.delete('reference.json');
  const noRef = buildManifest(i2, f2);
  assert.ok(!noRef.ok && /reference\.path/.test(noRef.message));
});

test('parseManifest round-trips a built manifest unchanged', () => {
  const b = fixtureBundle(signer.privateKeyPem);
  const again = parseManifest(JSON.parse(new TextDecoder().decode(encodeManifest(b.manifest))));
  assert.ok(again.ok);
  assert.deepEqual(again.value, b.manifest);
});

test('golden cases resolve from the bundle and compare within tolerance', () => {
  const b = fixtureBundle(signer.privateKeyPem);
  const g = resolveGolden(b.manifest, b.contents.files);
  assert.ok(g.ok, g.ok ? '' : g.message);
  const probs = g.value.cases[0]!.outputs.probabilities!;
  const tol = b.manifest.golden.tolerance;
  assert.equal(compareTensor(probs, { dims: [1, 2], data: Float32Array.from([0.9, 0.1]) }, tol).ok, true);
  const off = compareTensor(probs, { dims: [1, 2], data: [0.9, 0.2] }, tol);
  assert.equal(off.ok, false);
  assert.equal(off.firstMismatch, 1);
  assert.equal(compareTensor(g.value.cases[0]!.outputs.label!, { dims: [1], data: [0n] }, tol).ok, true);
  assert.equal(compareTensor(probs, { dims: [2, 1], data: [0.9, 0.1] }, tol).ok, false);
});
