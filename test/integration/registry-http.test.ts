// The registry's HTTP layer through Fastify's inject() (no socket): JSON errors with stable codes for
// unknown routes, wrong methods, bad paths and schema failures; the audit query's range (issue #8 §5);
// 401 messages that say which problem it is; the versions list as the doc describes it; HEAD on files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { createRegistryApp, type RegistryApp } from '../../collector/registry/server.ts';
import { archiveOf, makeBundle, READ_TOKEN, WRITE_TOKEN } from './registry-fixture.ts';

interface Json {
  [k: string]: unknown;
}

const key = generateSigningKeyPair();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function startApp(
  t: { after(fn: () => unknown): void },
  readAuth: 'open' | 'token' = 'open',
): Promise<RegistryApp & { internalErrors: unknown[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-registry-http-'));
  const internalErrors: unknown[] = [];
  const r = await createRegistryApp({
    dataDir: dir,
    tokens: [
      { token: WRITE_TOKEN, actor: 'ci-bot' },
      { token: READ_TOKEN, actor: 'dashboard', write: false },
    ],
    readAuth,
    trustedKeys: [key.publicKeyPem],
    onError: (err) => internalErrors.push(err),
  });
  t.after(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ...r, internalErrors };
}

function errorOf(res: { json(): unknown }): { code: string; message: string } {
  return (res.json() as { error: { code: string; message: string } }).error;
}

test('unknown routes, wrong methods, bad paths and bad bodies get JSON errors with codes', async (t) => {
  const { app, internalErrors } = await startApp(t);
  const notFound = await app.inject({ method: 'GET', url: '/api/v1/nope' });
  assert.equal(notFound.statusCode, 404);
  assert.match(String(notFound.headers['content-type']), /^application\/json/);
  assert.equal(errorOf(notFound).code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');

  const wrong = await app.inject({ method: 'PATCH', url: '/api/v1/models/pump/versions' });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.headers.allow, 'GET, POST');
  assert.equal(errorOf(wrong).code, 'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED');
  const wrongFile = await app.inject({
    method: 'DELETE',
    url: '/api/v1/models/pump/versions/1.0.0/files/a/b',
  });
  assert.equal(wrongFile.statusCode, 405);
  assert.equal(wrongFile.headers.allow, 'GET');

  // A trailing or doubled slash routes like the plain path (the router before Fastify did so).
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/models/' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1//models' })).statusCode, 200);

  const badPath = await app.inject({ method: 'GET', url: '/api/v1/models/%zz/aliases' });
  assert.equal(badPath.statusCode, 400);
  assert.equal(errorOf(badPath).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');

  const badJson = await app.inject({
    method: 'PUT',
    url: '/api/v1/models/pump/policy',
    headers: { ...bearer(WRITE_TOKEN), 'content-type': 'application/json' },
    payload: '{"minMacroF1": ',
  });
  assert.equal(badJson.statusCode, 400);
  assert.equal(errorOf(badJson).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');

  const notObject = await app.inject({
    method: 'PUT',
    url: '/api/v1/models/pump/policy',
    headers: bearer(WRITE_TOKEN),
    payload: '[1, 2]',
  });
  assert.equal(notObject.statusCode, 400);
  assert.equal(errorOf(notObject).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');

  const badFormat = await app.inject({
    method: 'GET',
    url: '/api/v1/models/pump/versions/1.0.0/bundle?format=zip',
  });
  assert.equal(badFormat.statusCode, 400);
  assert.equal(errorOf(badFormat).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  assert.match(errorOf(badFormat).message, /format/);

  const tooBig = await app.inject({
    method: 'PUT',
    url: '/api/v1/models/pump/policy',
    headers: bearer(WRITE_TOKEN),
    payload: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
  });
  assert.equal(tooBig.statusCode, 413);
  assert.equal(errorOf(tooBig).code, 'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE');
  assert.deepEqual(internalErrors, []);
});

test('audit: limit outside 1..1000 or not an integer, and a non-integer before, are 400 with a code', async (t) => {
  const { app } = await startApp(t);
  for (const q of ['limit=0', 'limit=5000', 'limit=-3', 'limit=abc', 'limit=2.5', 'before=abc', 'before=0']) {
    const res = await app.inject({ method: 'GET', url: `/api/v1/audit?${q}` });
    assert.equal(res.statusCode, 400, q);
    assert.equal(errorOf(res).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', q);
    assert.match(errorOf(res).message, new RegExp(q.split('=')[0]!), q);
  }
  for (const q of ['', '?limit=1', '?limit=1000', '?before=5&limit=10', '?model=pump']) {
    const res = await app.inject({ method: 'GET', url: `/api/v1/audit${q}` });
    assert.equal(res.statusCode, 200, q);
    assert.deepEqual(res.json(), { entries: [], next: null });
  }
});

test('401 says whether the token is missing, malformed or unknown; 403 says read-only', async (t) => {
  const { app, registry } = await startApp(t);
  const pushWith = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/api/v1/models/pump/versions', headers, payload: Buffer.alloc(10) });

  const none = await pushWith({});
  assert.equal(none.statusCode, 401);
  assert.equal(errorOf(none).code, 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  assert.match(errorOf(none).message, /needs a registry token: pass --token or set EDGELOOP_REGISTRY_TOKEN/);

  const unknown = await pushWith(bearer('not-a-token-anyone-configured'));
  assert.equal(unknown.statusCode, 401);
  assert.equal(errorOf(unknown).code, 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  assert.match(errorOf(unknown).message, /token is not known to this registry/);
  assert.doesNotMatch(errorOf(unknown).message, /Pass --token/i);

  const basic = await pushWith({ authorization: 'Basic dXNlcjpwYXNz' });
  assert.equal(basic.statusCode, 401);
  assert.match(errorOf(basic).message, /must be "Bearer <token>"/);

  const readOnly = await pushWith(bearer(READ_TOKEN));
  assert.equal(readOnly.statusCode, 403);
  assert.equal(errorOf(readOnly).code, 'EDGELOOP_ERR_REGISTRY_FORBIDDEN');
  assert.match(errorOf(readOnly).message, /"dashboard" is read-only/);

  // Every refusal is audited; the body was never parsed, so nothing else happened.
  assert.deepEqual(
    registry.listAudit({ limit: 10 }).map((e) => [e.actor, e.result, e.code]),
    [
      ['dashboard', 'rejected', 'EDGELOOP_ERR_REGISTRY_FORBIDDEN'],
      ['anonymous', 'rejected', 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED'],
      ['anonymous', 'rejected', 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED'],
      ['anonymous', 'rejected', 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED'],
    ],
  );
});

test('reads with --read-auth token: an unknown token is told so', async (t) => {
  const { app } = await startApp(t, 'token');
  const res = await app.inject({ method: 'GET', url: '/api/v1/models', headers: bearer('x'.repeat(20)) });
  assert.equal(res.statusCode, 401);
  assert.match(errorOf(res).message, /not known/);
  const ok = await app.inject({ method: 'GET', url: '/api/v1/models', headers: bearer(READ_TOKEN) });
  assert.equal(ok.statusCode, 200);
});

test('push, versions list as documented, HEAD on a file, and alias bodies checked by schema', async (t) => {
  const { app, registry, internalErrors } = await startApp(t);
  const b = await makeBundle(key, { version: '1.0.0' });
  const pushed = await app.inject({
    method: 'POST',
    url: '/api/v1/models/pump-condition/versions',
    headers: { ...bearer(WRITE_TOKEN), 'content-type': 'application/json' }, // any type: raw bytes
    payload: Buffer.from(archiveOf(b, true)),
  });
  assert.equal(pushed.statusCode, 201, pushed.body);
  assert.equal(pushed.headers.location, '/api/v1/models/pump-condition/versions/1.0.0');

  // The list entries are the version without its manifest: the fields docs/registry-api.md names.
  const list = await app.inject({ method: 'GET', url: '/api/v1/models/pump-condition/versions' });
  const entry = list.json<{ versions: Json[] }>().versions[0]!;
  const fields = ['model', 'version', 'manifestDigest', 'createdAt', 'pushedBy', 'aliases', 'files'];
  assert.deepEqual(Object.keys(entry).sort(), [...fields].sort());
  const doc = readFileSync(new URL('../../docs/registry-api.md', import.meta.url), 'utf8');
  const section = /`GET \/api\/v1\/models\/\{name\}\/versions` →[^]*?\n\n/.exec(doc)?.[0] ?? '';
  for (const f of fields) assert.ok(section.includes(`\`${f}\``), `the doc's versions list names ${f}`);
  assert.ok(!section.includes('push response'), 'the doc no longer promises the push response fields');

  const model = b.manifest.files.find((f) => f.path === 'model.onnx')!;
  const head = await app.inject({
    method: 'HEAD',
    url: '/api/v1/models/pump-condition/versions/1.0.0/files/model.onnx',
  });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['content-length'], String(model.size));
  assert.equal(head.headers.etag, `"${model.sha256}"`);
  assert.equal(head.rawPayload.length, 0);

  const put = (body: unknown) =>
    app.inject({
      method: 'PUT',
      url: '/api/v1/models/pump-condition/aliases/staging',
      headers: bearer(WRITE_TOKEN),
      payload: JSON.stringify(body),
    });
  for (const body of [{ version: '1.0.0' }, { version: '1.0.0', reason: '   ' }, { reason: 'why' }]) {
    const res = await put(body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(errorOf(res).code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  }
  assert.equal(
    registry.listAudit({ limit: 10 }).filter((e) => e.action === 'alias.move' && e.result === 'rejected')
      .length,
    3,
    'schema refusals of alias moves are audited',
  );
  const moved = await put({ version: '1.0.0', expectedVersion: null, reason: 'first candidate' });
  assert.equal(moved.statusCode, 200, moved.body);
  assert.deepEqual(internalErrors, []);
});
