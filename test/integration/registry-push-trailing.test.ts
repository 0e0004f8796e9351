// A push of zeros (the defect: 50 MB of zeros held the registry's event loop for 11 s, growing
// quadratically) is refused with EDGELOOP_ERR_BUNDLE_TRAILING_DATA, and the registry answers a read sent
// alongside it. A real bundle padded to a tar record still pushes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { archiveOf, errorCode, makeBundle, push, startHarness } from './registry-fixture.ts';

test('an all-zero push is refused as trailing data while reads are still answered', async (t) => {
  const h = await startHarness(t);
  const zeros = new Uint8Array(24 * 1024 * 1024);
  const [pushed, listed] = await Promise.all([
    push(h, zeros, 'x'),
    h.call('/api/v1/models', { token: null }),
  ]);
  assert.equal(pushed.status, 422);
  assert.equal(await errorCode(pushed), 'EDGELOOP_ERR_BUNDLE_TRAILING_DATA');
  assert.equal(listed.status, 200);
  assert.deepEqual(h.internalErrors, []);
});

test('a bundle padded with zeros to a 10 KiB tar record pushes', async (t) => {
  const h = await startHarness(t);
  const tar = archiveOf(await makeBundle(h.key));
  const padded = new Uint8Array(Buffer.concat([tar, new Uint8Array(10240 - (tar.byteLength % 10240))]));
  const res = await push(h, padded);
  assert.equal(res.status, 201, JSON.stringify(await res.clone().json()));
  const junk = new Uint8Array(Buffer.concat([tar, Buffer.from('extra')]));
  const refused = await push(h, junk);
  assert.equal(refused.status, 422);
  assert.equal(await errorCode(refused), 'EDGELOOP_ERR_BUNDLE_TRAILING_DATA');
});
