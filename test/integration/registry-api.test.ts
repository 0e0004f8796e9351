// The registry's happy path over real HTTP, real SQLite and real onnxruntime: push, list, show,
// download with ETag/304 and Range/206/416, the bundle tarball, aliases through staging -> production,
// history, lineage and the audit log, and that everything survives a restart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBundleArchive } from '../../shared/platform/tar.ts';
import { verifyBundle } from '../../shared/bundle/verify.ts';
import { createRegistryServer } from '../../collector/registry/server.ts';
import { archiveOf, makeBundle, push, startHarness, WRITE_TOKEN } from './registry-fixture.ts';

interface Json {
  [k: string]: unknown;
}

test('push, read, download, promote, lineage and audit over HTTP', async (t) => {
  const h = await startHarness(t);
  const b1 = await makeBundle(h.key, { version: '1.0.0', macroF1: 0.93 });
  const tar1 = archiveOf(b1, true);

  const first = await push(h, tar1);
  assert.equal(first.status, 201, await first.clone().text());
  const created = (await first.json()) as Json;
  assert.equal(created.created, true);
  assert.equal(created.version, '1.0.0');
  assert.equal(first.headers.get('location'), '/api/v1/models/pump-condition/versions/1.0.0');
  assert.deepEqual((created.certification as Json).goldenCases, 3);

  // Identical bytes again: idempotent, 200, nothing new.
  const again = await push(h, tar1);
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as Json).created, false);
  // The same bundle as a plain tar (other archive bytes, same manifest) is the same version too.
  assert.equal((await push(h, archiveOf(b1, false))).status, 200);

  const b2 = await makeBundle(h.key, { version: '1.1.0', macroF1: 0.95 });
  assert.equal((await push(h, archiveOf(b2))).status, 201);

  // Content-addressed and deduplicated: the four files both versions share are stored once, next to
  // one manifest and one signature per version.
  const blobs = readdirSync(join(h.dir, 'blobs', 'sha256'), { recursive: true, withFileTypes: true }).filter(
    (e) => e.isFile(),
  );
  assert.equal(blobs.length, 4 + 2 + 2);
  assert.deepEqual(readdirSync(join(h.dir, 'blobs', 'tmp')), [], 'no temp file left behind');

  const models = (await (await h.call('/api/v1/models', { token: null })).json()) as { models: Json[] };
  assert.deepEqual(
    models.models.map((m) => [m.name, m.versions, m.latestVersion]),
    [['pump-condition', 2, '1.1.0']],
  );

  const versions = (await (await h.call('/api/v1/models/pump-condition/versions')).json()) as {
    versions: Json[];
  };
  assert.deepEqual(
    versions.versions.map((v) => v.version),
    ['1.0.0', '1.1.0'],
  );
  assert.equal(versions.versions[0]!.pushedBy, 'ci-bot');

  const shown = (await (await h.call('/api/v1/models/pump-condition/versions/1.0.0')).json()) as Json;
  assert.equal(shown.manifestDigest, created.manifestDigest);
  assert.deepEqual((shown.manifest as Json).labels, ['normal', 'imbalance']);

  // File download: bytes and ETag equal the manifest's SHA-256.
  const modelEntry = b1.manifest.files.find((f) => f.path === 'model.onnx')!;
  const fileUrl = '/api/v1/models/pump-condition/versions/1.0.0/files/model.onnx';
  const full = await h.call(fileUrl);
  assert.equal(full.status, 200);
  const bytes = new Uint8Array(await full.arrayBuffer());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), modelEntry.sha256);
  assert.equal(full.headers.get('etag'), `"${modelEntry.sha256}"`);
  assert.equal(full.headers.get('accept-ranges'), 'bytes');

  const cached = await h.call(fileUrl, { headers: { 'if-none-match': `"${modelEntry.sha256}"` } });
  assert.equal(cached.status, 304);
  assert.equal((await cached.arrayBuffer()).byteLength, 0);
  const stale = await h.call(fileUrl, { headers: { 'if-none-match': '"0000"' } });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();

  const part = await h.call(fileUrl, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${bytes.length}`);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.subarray(10, 20));
  const suffix = await h.call(fileUrl, { headers: { range: 'bytes=-5' } });
  assert.equal(suffix.status, 206);
  assert.deepEqual(new Uint8Array(await suffix.arrayBuffer()), bytes.subarray(bytes.length - 5));
  const beyond = await h.call(fileUrl, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
  assert.equal(((await beyond.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_REGISTRY_RANGE');
  // HEAD gives the headers only.
  const head = await h.call(fileUrl, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));

  // manifest.json and manifest.sig are downloadable too, and a missing path is 404.
  const manifestRes = await h.call('/api/v1/models/pump-condition/versions/1.0.0/files/manifest.json');
  assert.deepEqual(new Uint8Array(await manifestRes.arrayBuffer()), b1.contents.manifest);
  const missing = await h.call('/api/v1/models/pump-condition/versions/1.0.0/files/nope.bin');
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_REGISTRY_NOT_FOUND');

  // The bundle tarball verifies against the signing key.
  const tarRes = await h.call('/api/v1/models/pump-condition/versions/1.0.0/bundle');
  assert.equal(tarRes.status, 200);
  assert.equal(tarRes.headers.get('content-type'), 'application/x-tar');
  const decoded = decodeBundleArchive(new Uint8Array(await tarRes.arrayBuffer()));
  assert.ok(decoded.ok);
  const verified = verifyBundle({ ...decoded.value, trustedKeys: [h.key.publicKeyPem] });
  assert.ok(verified.ok, verified.ok ? '' : verified.message);
  assert.equal(verified.value.digest, created.manifestDigest);
  const tgz = await h.call('/api/v1/models/pump-condition/versions/1.0.0/bundle?format=tgz');
  assert.equal(tgz.headers.get('content-type'), 'application/gzip');
  assert.ok(decodeBundleArchive(new Uint8Array(await tgz.arrayBuffer())).ok);

  // Aliases: create staging (expectation null = must not exist), then production, then move on.
  const put = (alias: string, body: Json) =>
    h.call(`/api/v1/models/pump-condition/aliases/${alias}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  assert.equal(
    (await put('staging', { version: '1.0.0', expectedVersion: null, reason: 'first candidate' })).status,
    200,
  );
  assert.equal(
    (await put('production', { version: '1.0.0', expectedVersion: null, reason: 'go live' })).status,
    200,
  );
  assert.equal(
    (await put('staging', { version: '1.1.0', expectedVersion: '1.0.0', reason: 'retrained' })).status,
    200,
  );
  const moved = await put('production', {
    version: '1.1.0',
    expectedVersion: '1.0.0',
    reason: 'better macro-F1',
  });
  assert.equal(moved.status, 200);
  assert.deepEqual(await moved.json(), { alias: 'production', from: '1.0.0', to: '1.1.0', changed: true });
  // A retry of the same move is a no-op success, with no new history row.
  const retry = await put('production', {
    version: '1.1.0',
    expectedVersion: '1.0.0',
    reason: 'better macro-F1',
  });
  assert.equal(((await retry.json()) as Json).changed, false);

  const aliases = (await (await h.call('/api/v1/models/pump-condition/aliases')).json()) as {
    aliases: Json[];
  };
  assert.deepEqual(
    aliases.aliases.map((a) => [a.alias, a.version, a.updatedBy]),
    [
      ['staging', '1.1.0', 'ci-bot'],
      ['production', '1.1.0', 'ci-bot'],
    ],
  );
  const hist = (await (await h.call('/api/v1/models/pump-condition/aliases/production/history')).json()) as {
    history: Json[];
  };
  assert.deepEqual(
    hist.history.map((x) => [x.from, x.to, x.actor, x.reason]),
    [
      [null, '1.0.0', 'ci-bot', 'go live'],
      ['1.0.0', '1.1.0', 'ci-bot', 'better macro-F1'],
    ],
  );

  // Lineage names datasets, run, bundle digest and the alias history touching the version.
  const lineage = (await (
    await h.call('/api/v1/models/pump-condition/versions/1.0.0/lineage')
  ).json()) as Json;
  assert.equal((lineage.bundle as Json).manifestDigest, created.manifestDigest);
  assert.equal(((lineage.datasets as Json[])[0] as Json).digest, 'b'.repeat(64));
  assert.equal((lineage.run as Json).origin, 'imported');
  assert.deepEqual((lineage.aliases as Json).current, []);
  assert.equal(((lineage.aliases as Json).history as Json[]).length, 4);

  const audit = (await (await h.call('/api/v1/audit?limit=100')).json()) as { entries: Json[] };
  const actions = audit.entries
    .map((e) => `${String(e.action)} ${String(e.target)} ${String(e.result)}`)
    .reverse();
  assert.deepEqual(actions.slice(0, 5), [
    'push pump-condition@1.0.0 ok',
    'push pump-condition@1.0.0 ok',
    'push pump-condition@1.0.0 ok',
    'push pump-condition@1.1.0 ok',
    'alias.move pump-condition/staging ok',
  ]);
  assert.ok(audit.entries.every((e) => e.actor === 'ci-bot'));
  assert.deepEqual(h.internalErrors, []);

  // Everything is on disk: a new server on the same data dir sees the same state.
  await h.server.close();
  const reopened = await createRegistryServer({
    dataDir: h.dir,
    tokens: [{ token: WRITE_TOKEN, actor: 'ci-bot' }],
    trustedKeys: [h.key.publicKeyPem],
  });
  t.after(() => reopened.close());
  const after = (await (await fetch(`${reopened.url}/api/v1/models/pump-condition/aliases`)).json()) as {
    aliases: Json[];
  };
  assert.equal(after.aliases.find((a) => a.alias === 'production')?.version, '1.1.0');
  const file = await fetch(`${reopened.url}${fileUrl}`);
  assert.deepEqual(new Uint8Array(await file.arrayBuffer()), bytes);
});

test('reads can require a token; writes always do', async (t) => {
  const h = await startHarness(t, { readAuth: 'token' });
  const open = await h.call('/api/v1/models', { token: null });
  assert.equal(open.status, 401);
  assert.equal(((await open.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  assert.equal((await h.call('/api/v1/models', { token: 'read-token-0123456789abcdef' })).status, 200);
  assert.equal((await h.call('/api/v1/models', { token: 'wrong-token-0123456789abcdef' })).status, 401);
  const tar = archiveOf(await makeBundle(h.key));
  const readOnly = await push(h, tar, 'pump-condition', 'read-token-0123456789abcdef');
  assert.equal(readOnly.status, 403);
  assert.equal(((await readOnly.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_REGISTRY_FORBIDDEN');
  const audit = (await (await h.call('/api/v1/audit')).json()) as { entries: Json[] };
  assert.deepEqual(
    audit.entries.map((e) => [e.actor, e.action, e.result, e.code]),
    [['dashboard', 'push', 'rejected', 'EDGELOOP_ERR_REGISTRY_FORBIDDEN']],
  );
});

test('HTTP layer: unknown routes, wrong methods and malformed paths get JSON errors', async (t) => {
  const h = await startHarness(t);
  const notFound = await h.call('/api/v1/nope');
  assert.equal(notFound.status, 404);
  assert.equal(((await notFound.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  const wrongMethod = await h.call('/api/v1/models', { method: 'DELETE' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET');
  assert.equal(
    ((await wrongMethod.json()) as { error: Json }).error.code,
    'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED',
  );
  const badPath = await h.call('/api/v1/models/%zz/versions');
  assert.equal(badPath.status, 400);
  assert.equal(((await badPath.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  const unknownModel = await h.call('/api/v1/models/ghost/versions/1.0.0');
  assert.equal(unknownModel.status, 404);
  assert.match(String(((await unknownModel.json()) as { error: Json }).error.message), /^model ghost\./);
});

test('two concurrent pushes of one version with different bytes: exactly one wins', async (t) => {
  const h = await startHarness(t);
  const a = archiveOf(await makeBundle(h.key, { version: '3.0.0', description: 'a' }));
  const b = archiveOf(await makeBundle(h.key, { version: '3.0.0', description: 'b' }));
  const [ra, rb] = await Promise.all([push(h, a), push(h, b)]);
  assert.deepEqual([ra.status, rb.status].sort(), [201, 409]);
  const loser = ra.status === 409 ? ra : rb;
  assert.equal(((await loser.json()) as { error: Json }).error.code, 'EDGELOOP_ERR_REGISTRY_VERSION_EXISTS');
  const versions = (await (await h.call('/api/v1/models/pump-condition/versions')).json()) as {
    versions: Json[];
  };
  assert.equal(versions.versions.length, 1);
});
