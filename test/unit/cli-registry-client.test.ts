// The registry client's shared options (cli/registry-client.ts): flag, EDGELOOP_* variable and config-file
// key through the one loader, and refusals always carrying a catalogue code (issue #7 §1, §4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistryClientConfig, statusCode } from '../../cli/registry-client.ts';
import { errorCatalogue, EdgeloopError } from '../../shared/errors.ts';

test('client options: flag > EDGELOOP_* variable > --config file > default, frozen', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-registry-client-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  assert.deepEqual(loadRegistryClientConfig({}, {}), {
    registryUrl: 'http://127.0.0.1:8470',
    registryToken: '',
    json: false,
    trustedKeys: [],
  });
  const file = join(dir, 'client.json');
  writeFileSync(
    file,
    JSON.stringify({ registryUrl: 'http://file:1', registryToken: 'from-file', json: true }),
  );
  const env = { EDGELOOP_REGISTRY_URL: 'http://env:2', EDGELOOP_TRUSTED_KEYS: 'a.pub, b.pub' };
  const c = loadRegistryClientConfig({ config: file }, env);
  assert.equal(c.registryUrl, 'http://env:2', 'the variable beats the file');
  assert.equal(c.registryToken, 'from-file', 'the file key');
  assert.equal(c.json, true);
  assert.deepEqual(c.trustedKeys, ['a.pub', 'b.pub']);
  assert.ok(Object.isFrozen(c));
  const f = loadRegistryClientConfig({ config: file, url: 'http://flag:3', 'trusted-key': ['c.pub'] }, env);
  assert.equal(f.registryUrl, 'http://flag:3', 'the flag beats the variable');
  assert.deepEqual(f.trustedKeys, ['c.pub']);
});

test("client options: serve's variables are not typos here; real typos and bad values name the option", () => {
  // A registry host exports serve's options; `registry list` on it must still run.
  assert.doesNotThrow(() =>
    loadRegistryClientConfig({}, { EDGELOOP_DATA_DIR: '/var/lib/reg', EDGELOOP_PORT: '1' }),
  );
  assert.throws(
    () => loadRegistryClientConfig({}, { EDGELOOP_REGISTRY_ULR: 'http://x' }),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /EDGELOOP_REGISTRY_URL/.test(e.message),
  );
  assert.throws(
    () => loadRegistryClientConfig({ url: 'ftp://x' }, {}),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_INVALID' &&
      /^--url ftp:\/\/x: must be an http\(s\) URL/.test(e.message),
  );
});

test('a refusal without one of our codes gets one from its HTTP status', () => {
  for (const status of [301, 400, 401, 403, 404, 405, 408, 413, 422, 500, 502, 504]) {
    const code = statusCode(status);
    assert.ok(code in errorCatalogue, `${status} -> ${code}`);
  }
  assert.equal(statusCode(401), 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED');
  assert.equal(statusCode(502), 'EDGELOOP_ERR_HTTP_INTERNAL');
  assert.equal(statusCode(404), 'EDGELOOP_ERR_HTTP_NOT_FOUND');
});
