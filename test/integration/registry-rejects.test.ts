// Issue #3 section 7, negative tests: every bad push, stale alias move and gate failure is refused over
// real HTTP with its own stable code, nothing of it is stored, and the audit log records the refusal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import type { BundleContents } from '../../shared/bundle/verify.ts';
import {
  archiveOf,
  errorCode,
  FEATURES,
  makeBundle,
  push,
  startHarness,
  tinyIo,
  type Harness,
} from './registry-fixture.ts';

interface Json {
  [k: string]: unknown;
}

function withFiles(b: SignedBundle, edit: (files: Map<string, Uint8Array>) => void): Uint8Array {
  const files = new Map(b.contents.files);
  edit(files);
  return encodeBundleArchive({ ...b.contents, files });
}

async function expectRejected(
  h: Harness,
  body: Uint8Array,
  status: number,
  code: string,
  model = 'pump-condition',
): Promise<Json> {
  const res = await push(h, body, model);
  const json = (await res.json()) as { error: Json };
  assert.equal(res.status, status, JSON.stringify(json));
  assert.equal(json.error.code, code, String(json.error.message));
  assert.equal(typeof json.error.message, 'string');
  return json.error;
}

async function storedVersions(h: Harness): Promise<string[]> {
  const res = await h.call('/api/v1/models/pump-condition/versions');
  if (res.status === 404) return [];
  return ((await res.json()) as { versions: Json[] }).versions.map((v) => String(v.version));
}

test('bundle integrity and certification failures are rejected, each with its own code', async (t) => {
  const h = await startHarness(t);
  const good = await makeBundle(h.key);

  await t.test('tampered file -> BUNDLE_HASH_MISMATCH', async () => {
    const body = withFiles(good, (files) => {
      const report = Uint8Array.from(files.get('report.md')!);
      report[2] = report[2]! ^ 0x20; // same size, different bytes
      files.set('report.md', report);
    });
    await expectRejected(h, body, 422, 'EDGELOOP_ERR_BUNDLE_HASH_MISMATCH');
  });

  await t.test('signed by a key the registry does not trust -> BUNDLE_UNTRUSTED_KEY', async () => {
    const rogue = await makeBundle(generateSigningKeyPair());
    await expectRejected(h, archiveOf(rogue), 422, 'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY');
  });

  await t.test('signature of another manifest -> BUNDLE_SIGNATURE', async () => {
    const other = await makeBundle(h.key, { description: 'another manifest' });
    const contents: BundleContents = { ...good.contents, signature: other.contents.signature };
    await expectRejected(h, encodeBundleArchive(contents), 422, 'EDGELOOP_ERR_BUNDLE_SIGNATURE');
  });

  await t.test('forged signature bytes -> BUNDLE_SIGNATURE', async () => {
    const sig = JSON.parse(new TextDecoder().decode(good.contents.signature)) as Json;
    const raw = Buffer.from(String(sig.signature), 'base64');
    raw[0] = raw[0]! ^ 0xff;
    const forged = new TextEncoder().encode(JSON.stringify({ ...sig, signature: raw.toString('base64') }));
    await expectRejected(
      h,
      encodeBundleArchive({ ...good.contents, signature: forged }),
      422,
      'EDGELOOP_ERR_BUNDLE_SIGNATURE',
    );
  });

  await t.test('no signature at all -> BUNDLE_SIGNATURE', async () => {
    await expectRejected(
      h,
      encodeBundleArchive({ ...good.contents, signature: null }),
      422,
      'EDGELOOP_ERR_BUNDLE_SIGNATURE',
    );
  });

  await t.test('extra file -> BUNDLE_EXTRA_FILE', async () => {
    const body = withFiles(good, (files) =>
      files.set('backdoor.sh', new TextEncoder().encode('#!/bin/sh\n')),
    );
    await expectRejected(h, body, 422, 'EDGELOOP_ERR_BUNDLE_EXTRA_FILE');
  });

  await t.test('missing file -> BUNDLE_MISSING_FILE', async () => {
    const body = withFiles(good, (files) => files.delete('report.md'));
    await expectRejected(h, body, 422, 'EDGELOOP_ERR_BUNDLE_MISSING_FILE');
  });

  await t.test('ONNX inputs not matching the manifest -> REGISTRY_IO_MISMATCH', async () => {
    const wrongShape = await makeBundle(h.key, {
      io: { ...tinyIo, inputs: [{ name: 'features', dtype: 'float32', shape: ['N', FEATURES + 1] }] },
    });
    const e = await expectRejected(h, archiveOf(wrongShape), 422, 'EDGELOOP_ERR_REGISTRY_IO_MISMATCH');
    assert.match(String(e.message), /input "features": model shape \[N, 3\], manifest \[N, 4\]/);
    const wrongName = await makeBundle(h.key, {
      io: { ...tinyIo, outputs: [{ name: 'scores', dtype: 'float32', shape: ['N', 2] }, tinyIo.outputs[1]!] },
    });
    const e2 = await expectRejected(h, archiveOf(wrongName), 422, 'EDGELOOP_ERR_REGISTRY_IO_MISMATCH');
    assert.match(String(e2.message), /manifest output "scores" is not a model output/);
    const wrongDtype = await makeBundle(h.key, {
      io: { ...tinyIo, outputs: [tinyIo.outputs[0]!, { name: 'label', dtype: 'int32', shape: ['N'] }] },
    });
    await expectRejected(h, archiveOf(wrongDtype), 422, 'EDGELOOP_ERR_REGISTRY_IO_MISMATCH');
  });

  await t.test('golden outputs that do not reproduce -> REGISTRY_GOLDEN_MISMATCH', async () => {
    const drifted = await makeBundle(h.key, { goldenShift: 0.01 });
    const e = await expectRejected(h, archiveOf(drifted), 422, 'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH');
    assert.match(String(e.message), /golden case 0, output "probabilities"/);
  });

  await t.test('a model file that is not ONNX -> REGISTRY_ONNX_LOAD', async () => {
    const junk = await makeBundle(h.key, {
      modelBytes: new TextEncoder().encode('not an onnx model at all'),
    });
    await expectRejected(h, archiveOf(junk), 422, 'EDGELOOP_ERR_REGISTRY_ONNX_LOAD');
  });

  await t.test('garbage instead of a tarball -> BUNDLE_ARCHIVE_INVALID', async () => {
    await expectRejected(h, new Uint8Array(2048).fill(7), 422, 'EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID');
  });

  await t.test('pushed under another model name -> REGISTRY_NAME_MISMATCH', async () => {
    await expectRejected(h, archiveOf(good), 422, 'EDGELOOP_ERR_REGISTRY_NAME_MISMATCH', 'press-anomaly');
    const res = await h.call('/api/v1/models/pump-condition/versions?version=9.9.9', {
      method: 'POST',
      body: archiveOf(good),
    });
    assert.equal(res.status, 422);
    assert.equal(await errorCode(res), 'EDGELOOP_ERR_REGISTRY_NAME_MISMATCH');
  });

  await t.test('an invalid model name in the URL -> 400 REGISTRY_BAD_NAME', async () => {
    await expectRejected(h, archiveOf(good), 400, 'EDGELOOP_ERR_REGISTRY_BAD_NAME', 'Bad%20Name');
  });

  await t.test('no token -> 401 REGISTRY_UNAUTHORIZED', async () => {
    const res = await push(h, archiveOf(good), 'pump-condition', null);
    assert.equal(res.status, 401);
    assert.equal(await errorCode(res), 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  });

  assert.deepEqual(await storedVersions(h), [], 'no rejected push may store a version');
  const audit = (await (await h.call('/api/v1/audit?limit=1000')).json()) as { entries: Json[] };
  assert.ok(audit.entries.length >= 15);
  assert.ok(audit.entries.every((e) => e.result === 'rejected' && typeof e.code === 'string'));
  assert.ok(
    audit.entries.some((e) => e.actor === 'anonymous' && e.code === 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED'),
  );
  assert.deepEqual(h.internalErrors, []);
});

test('a bundle larger than the limit -> 413', async (t) => {
  const h = await startHarness(t, { maxBundleBytes: 4096 });
  const big = archiveOf(await makeBundle(h.key));
  assert.ok(big.length > 4096);
  const res = await push(h, big);
  assert.equal(res.status, 413);
  assert.equal(await errorCode(res), 'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE');
});

test('versions are immutable; aliases move by compare-and-set behind the promotion gate', async (t) => {
  const h = await startHarness(t);
  const put = (alias: string, body: Json, token?: string | null) =>
    h.call(`/api/v1/models/pump-condition/aliases/${alias}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      ...(token === undefined ? {} : { token }),
    });

  assert.equal(
    (await push(h, archiveOf(await makeBundle(h.key, { version: '1.0.0', macroF1: 0.95 })))).status,
    201,
  );

  // Overwriting a version with different bytes (here: another description) is refused.
  const changed = await makeBundle(h.key, { version: '1.0.0', macroF1: 0.95, description: 'rebuilt' });
  await expectRejected(h, archiveOf(changed), 409, 'EDGELOOP_ERR_REGISTRY_VERSION_EXISTS');
  const shown = (await (await h.call('/api/v1/models/pump-condition/versions/1.0.0')).json()) as {
    manifest: Json;
  };
  assert.equal(shown.manifest.description, undefined, 'the stored version is unchanged');

  assert.equal(
    (await push(h, archiveOf(await makeBundle(h.key, { version: '1.1.0', macroF1: 0.85 })))).status,
    201,
  );
  assert.equal(
    (await push(h, archiveOf(await makeBundle(h.key, { version: '1.2.0', macroF1: 0.92 })))).status,
    201,
  );
  assert.equal(
    (await push(h, archiveOf(await makeBundle(h.key, { version: '1.3.0', macroF1: 0.94 })))).status,
    201,
  );

  // Stale compare-and-set.
  assert.equal(
    (await put('production', { version: '1.0.0', expectedVersion: null, reason: 'initial' })).status,
    200,
  );
  const stale = await put('production', {
    version: '1.3.0',
    expectedVersion: null,
    reason: 'thought it was empty',
  });
  assert.equal(stale.status, 409);
  assert.equal(await errorCode(stale), 'EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT');
  const staleVersion = await put('production', {
    version: '1.3.0',
    expectedVersion: '1.2.0',
    reason: 'stale view',
  });
  assert.equal(staleVersion.status, 409);
  assert.equal(await errorCode(staleVersion), 'EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT');

  // Missing token, unknown alias, unknown version, missing reason.
  const anon = await put('staging', { version: '1.1.0', reason: 'x' }, null);
  assert.equal(anon.status, 401);
  assert.equal(await errorCode(anon), 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  const badAlias = await put('prod', { version: '1.1.0', reason: 'x' });
  assert.equal(badAlias.status, 400);
  assert.equal(await errorCode(badAlias), 'EDGELOOP_ERR_REGISTRY_BAD_NAME');
  const noVersion = await put('staging', { version: '7.0.0', reason: 'x' });
  assert.equal(noVersion.status, 404);
  assert.equal(await errorCode(noVersion), 'EDGELOOP_ERR_REGISTRY_NOT_FOUND');
  const noReason = await put('staging', { version: '1.1.0' });
  assert.equal(noReason.status, 400);
  assert.equal(await errorCode(noReason), 'EDGELOOP_ERR_HTTP_BAD_REQUEST');

  // Promotion gate.
  const badPolicy = await h.call('/api/v1/models/pump-condition/policy', {
    method: 'PUT',
    body: JSON.stringify({ minMacroF1: 2 }),
  });
  assert.equal(badPolicy.status, 400);
  const policy = await h.call('/api/v1/models/pump-condition/policy', {
    method: 'PUT',
    body: JSON.stringify({ minMacroF1: 0.9, maxRegressionVsProduction: 0.02 }),
  });
  assert.equal(policy.status, 200);
  assert.deepEqual(((await (await h.call('/api/v1/models/pump-condition/policy')).json()) as Json).policy, {
    minMacroF1: 0.9,
    maxRegressionVsProduction: 0.02,
  });

  const belowMin = await put('production', { version: '1.1.0', expectedVersion: '1.0.0', reason: 'try' });
  assert.equal(belowMin.status, 412);
  const e1 = ((await belowMin.json()) as { error: { code: string; reasons: string[] } }).error;
  assert.equal(e1.code, 'EDGELOOP_ERR_REGISTRY_GATE_FAILED');
  assert.equal(e1.reasons.length, 2, e1.reasons.join(' | ')); // below 0.9 and 0.10 below production
  assert.match(e1.reasons[0]!, /macroF1 0\.8500 is below the minimum 0\.9/);

  const regression = await put('production', { version: '1.2.0', expectedVersion: '1.0.0', reason: 'try' });
  assert.equal(regression.status, 412);
  const e2 = ((await regression.json()) as { error: { reasons: string[] } }).error;
  assert.deepEqual(e2.reasons.length, 1);
  assert.match(e2.reasons[0]!, /0\.0300 below production 1\.0\.0/);

  // The gate binds production only: staging and canary take any version.
  assert.equal((await put('staging', { version: '1.1.0', reason: 'look at it' })).status, 200);
  const pass = await put('production', {
    version: '1.3.0',
    expectedVersion: '1.0.0',
    reason: 'within 0.02 of production',
  });
  assert.equal(pass.status, 200);

  // requireStagingFirst: 1.2.0 was never staged.
  await h.call('/api/v1/models/pump-condition/policy', {
    method: 'PUT',
    body: JSON.stringify({ requireStagingFirst: true }),
  });
  const unstaged = await put('production', { version: '1.2.0', reason: 'skip staging' });
  assert.equal(unstaged.status, 412);
  assert.match(
    ((await unstaged.json()) as { error: { reasons: string[] } }).error.reasons[0]!,
    /never in staging or canary/,
  );

  const hist = (await (await h.call('/api/v1/models/pump-condition/aliases/production/history')).json()) as {
    history: Json[];
  };
  assert.deepEqual(
    hist.history.map((x) => x.to),
    ['1.0.0', '1.3.0'],
    'refused moves leave no history',
  );
  const audit = (await (await h.call('/api/v1/audit?model=pump-condition&limit=1000')).json()) as {
    entries: Json[];
  };
  const codes = audit.entries.filter((e) => e.result === 'rejected').map((e) => e.code);
  for (const c of [
    'EDGELOOP_ERR_REGISTRY_VERSION_EXISTS',
    'EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT',
    'EDGELOOP_ERR_REGISTRY_GATE_FAILED',
    'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED',
  ]) {
    assert.ok(codes.includes(c), `audit lacks ${c}`);
  }
  assert.deepEqual(h.internalErrors, []);
});
